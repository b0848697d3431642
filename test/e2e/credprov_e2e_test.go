//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/credplugin"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

// TestControllerCredentialProvider runs the controller in the cluster with the test
// credential provider plugin mounted from the node (the chart's
// credentialProviders.volume). The plugin asks the registry fixture's issuer for
// credentials that the registry accepts for 20 seconds only. A ClusterPullSecret with
// that plugin as its source keeps a Deployment of a private image pulling (policy
// Always) across three expiries, its copy updated in place, and a credential it held
// earlier is refused by the registry once expired.
func TestControllerCredentialProvider(t *testing.T) {
	const lifetime = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := local.Client
	dyn, err := dynamic.NewForConfig(local.Config)
	if err != nil {
		t.Fatal(err)
	}
	apiHost, _ := apiServerAddress(t)

	// A registry whose only credentials are the issuer's; the issuer listens on the
	// bridge address, where the controller's pods reach it.
	reg := privateRegistry(ctx, t, "credprov-e2e", registry.Options{Auth: registry.AuthBasic})
	issuer, err := reg.StartIssuer(apiHost+":0", lifetime)
	if err != nil {
		t.Fatal(err)
	}
	defer issuer.Close()

	// The plugin, in a folder of the node that the controller mounts; user 65532 runs it.
	dir, err := os.MkdirTemp("", "regcred-e2e-plugins-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := credplugin.Build(ctx, dir); err != nil {
		t.Fatal(err)
	}

	installController(ctx, t, "regcred", "regcred-system",
		"credentialProviders.volume.hostPath.path="+dir, "credentialProviders.volume.hostPath.type=Directory")
	defer func() {
		removeCPS(context.Background(), t, dyn, "team-pull")
		helmQuiet("uninstall", "regcred", "--namespace", "regcred-system", "--wait")
	}()

	image := reg.Ref("team/app:1")
	apply(ctx, t, dyn, "team-pull", fmt.Sprintf(`{"apiVersion":"regcred.dev/v1alpha1","kind":"ClusterPullSecret","metadata":{"name":"team-pull"},
		"spec":{"source":{"credentialProvider":{"name":%q,"image":%q,"env":[{"name":%q,"value":%q}]}},
		"namespaceSelector":{"matchLabels":{"regcred-e2e":"controller"}}}}`, credplugin.Name, image, credplugin.EnvIssuer, issuer.URL))
	labelledNamespace(ctx, t, "cred-app")

	// current returns the copy's UID and credential once the default ServiceAccount
	// references it.
	current := func() (types.UID, dockercfg.Credential, error) {
		s, err := cs.CoreV1().Secrets("cred-app").Get(ctx, "team-pull", metav1.GetOptions{})
		if err != nil {
			return "", dockercfg.Credential{}, err
		}
		cfg, err := dockercfg.FromSecret(s)
		if err != nil {
			return "", dockercfg.Credential{}, err
		}
		if len(cfg.Entries) != 1 || cfg.Entries[0].Key != reg.Host {
			return "", dockercfg.Credential{}, fmt.Errorf("copy has %d entries", len(cfg.Entries))
		}
		return s.UID, cfg.Entries[0].Credential, synced(ctx, "cred-app", "team-pull", s.Data[corev1.DockerConfigJsonKey])
	}
	var uid types.UID
	var first dockercfg.Credential
	waitFor(ctx, t, "minted credential in cred-app", func() (err error) {
		uid, first, err = current()
		return err
	})
	firstAt := time.Now()
	always := func(spec *corev1.PodSpec) { spec.Containers[0].ImagePullPolicy = corev1.PullAlways }
	if err := workload.DeploymentWith(ctx, cs, "cred-app", "app", image, always); err != nil {
		t.Fatal(err)
	}
	pod, err := cluster.WaitForPodSelected(ctx, cs, "cred-app", "app=app", cluster.PodRunning)
	if err != nil {
		t.Fatal(err)
	}

	// Three expiries: after each, a restart pulls again with the credential the copy
	// holds by then.
	seen := map[string]bool{first.Password: true}
	for i := 1; i <= 3; i++ {
		time.Sleep(time.Until(firstAt.Add(time.Duration(i)*lifetime + 2*time.Second)))
		var now dockercfg.Credential
		var nowUID types.UID
		waitFor(ctx, t, "a refreshed credential", func() (err error) {
			nowUID, now, err = current()
			return err
		})
		if nowUID != uid {
			t.Fatalf("copy recreated (UID %s, then %s), not updated in place", uid, nowUID)
		}
		seen[now.Password] = true
		if err := workload.RolloutRestart(ctx, cs, "cred-app", "app"); err != nil {
			t.Fatal(err)
		}
		prev := pod.UID
		waitFor(ctx, t, fmt.Sprintf("pod running after expiry %d", i), func() error {
			list, err := cs.CoreV1().Pods("cred-app").List(ctx, metav1.ListOptions{LabelSelector: "app=app"})
			if err != nil {
				return err
			}
			for _, p := range list.Items {
				if ok, _ := cluster.PodRunning(&p); ok && p.UID != prev {
					pod = &p
					return nil
				}
			}
			return fmt.Errorf("no new running pod among %d", len(list.Items))
		})
		t.Logf("expiry %d: pod %s running, %d credentials issued so far", i, pod.Name, issuer.Issued())
	}
	if len(seen) < 4 {
		t.Errorf("the copy held %d distinct credentials over three expiries", len(seen))
	}
	// The first credential expired long ago: the registry refuses it.
	ref, err := name.ParseReference(image, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref, remote.WithAuth(&authn.Basic{Username: first.Username, Password: first.Password}), remote.WithContext(ctx))
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Errorf("the expired first credential: %v, want 401 Unauthorized", err)
	}
	// Minted once per refresh, not per namespace or pull: about two per lifetime.
	if n, most := issuer.Issued(), int(time.Since(firstAt)/(lifetime/2))+3; n > most {
		t.Errorf("%d credentials issued in %s, want at most %d", n, time.Since(firstAt).Round(time.Second), most)
	}
}
