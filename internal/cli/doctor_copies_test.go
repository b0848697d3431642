package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/pullsecret"
)

// copyOfWrongPassword makes a ClusterPullSecret whose source (src/pull) holds a
// password the Basic registry rejects, and its copy, named secretName, in namespace app.
func copyOfWrongPassword(t *testing.T, src, app, secretName string, selector map[string]string) *v1alpha1.ClusterPullSecret {
	t.Helper()
	c := cpsClient(t)
	data, err := dockercfg.Marshal(dockercfg.Server{Key: regs.Basic.Host, Credential: dockercfg.Credential{Username: "alice", Password: "not-alices-password"}})
	if err != nil {
		t.Fatal(err)
	}
	source := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
	if _, err := kube.CoreV1().Secrets(src).Create(context.Background(), source, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	content, err := pullsecret.ContentFrom(source)
	if err != nil {
		t.Fatal(err)
	}
	cps := newClusterPullSecret(t, c, &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("doctor-copy-%d", nsCounter.Add(1))},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source:            v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: src, Name: "pull"}},
			SecretName:        secretName,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: selector},
		},
	}, v1alpha1.ClusterPullSecretStatus{SourceHash: content.Hash})
	writeCopy(t, cps, app, content)
	return cps
}

// TestDoctorFixesTheSourceOfACopy: a pod pulls with a regcred copy whose password the
// registry rejects. The printed fix rewrites the source, never the copy, and works.
func TestDoctorFixesTheSourceOfACopy(t *testing.T) {
	src, app := newNamespace(t, "dc-src"), newNamespace(t, "dc-app")
	cps := copyOfWrongPassword(t, src, app, "regcred", map[string]string{"regcred.dev/test": "dc"})
	image := regs.Basic.Ref("team/app:v1")
	failingPod(t, app, "web", image, `Back-off pulling image "`+image+`": ErrImagePull: failed to pull and unpack image: pulling from host `+regs.Basic.Host+` failed with status code [manifests v1]: 401 Unauthorized`, "regcred")

	out, errOut, code := runCmd(t, "doctor", "-n", app)
	if code != 1 {
		t.Fatalf("doctor: exit %d, %q\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"✗ error  CredentialRejected  (1 pods)",
		fmt.Sprintf("    secret:   regcred (a copy of %s/pull kept by ClusterPullSecret %s)\n", src, cps.Name),
		fmt.Sprintf(`    fix:      printf '%%s' "$PASSWORD" | kubectl regcred create pull -n %s --server %s --username alice --password-stdin --overwrite   # %s/regcred is a copy: regcred-controller copies its source to every namespace ClusterPullSecret %s targets`+"\n", src, regs.Basic.Host, app, cps.Name),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "create regcred -n "+app) {
		t.Errorf("doctor's fix writes the copy:\n%s", out)
	}
	t.Logf("kubectl regcred doctor -n %s\n%s", app, out)

	out, _, _ = runCmd(t, "doctor", "-n", app, "-o", "json")
	var rep struct {
		Findings []struct{ Code, Secret, ClusterPullSecret, SourceSecret string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) != 1 || rep.Findings[0].ClusterPullSecret != cps.Name || rep.Findings[0].SourceSecret != src+"/pull" {
		t.Errorf("doctor -o json: %v\n%s", err, out)
	}

	// The copy itself is refused: regcred-controller would undo the change.
	_, errOut, code = runCmdIn(t, alicePassword(), "create", "regcred", "-n", app, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--overwrite")
	if want := fmt.Sprintf("secret %s/regcred is a copy that ClusterPullSecret %s keeps: regcred-controller would undo any change; change its source instead (kubectl regcred create pull -n %s ... --overwrite)", app, cps.Name, src); code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("create --overwrite of a copy: exit %d, %q; want 2 with %q", code, errOut, want)
	}
	// The printed fix, as printed, with alice's password: the source now works.
	if _, errOut, code := runCmdIn(t, alicePassword(), "create", "pull", "-n", src, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--overwrite"); code != 0 {
		t.Fatalf("the printed fix: exit %d, %q", code, errOut)
	}
	if cfg := secretConfig(t, src, "pull"); len(cfg.Entries) != 1 || cfg.Entries[0].Password != alicePassword() {
		t.Errorf("source after the fix holds %d entries, not alice's password", len(cfg.Entries))
	}
}

// TestDoctorMissingSecretIsACopyElsewhere: the pod's namespace lacks a Secret that
// another namespace has as a regcred copy. doctor reads the ClusterPullSecret and says
// how to have it target the namespace, instead of copying the copy by hand.
func TestDoctorMissingSecretIsACopyElsewhere(t *testing.T) {
	src, app, other := newNamespace(t, "dm-src"), newNamespace(t, "dm-app"), newNamespace(t, "dm-other")
	cps := copyOfWrongPassword(t, src, other, "dm-pull", map[string]string{"regcred.dev/test": "dm"})
	image := regs.Basic.Ref("team/app:v1")
	failingPod(t, app, "web", image, `Back-off pulling image "`+image+`": 401 Unauthorized`, "dm-pull")

	out, errOut, code := runCmd(t, "doctor", "-n", app, "--offline")
	if code != 1 {
		t.Fatalf("doctor: exit %d, %q\n%s", code, errOut, out)
	}
	for _, want := range []string{
		fmt.Sprintf("a Secret of that name exists in %s; in %s it is a copy of %s/pull kept by ClusterPullSecret %s, which has none in %s", other, other, src, cps.Name, app),
		fmt.Sprintf("    fix:      kubectl regcred status %s   # Secret dm-pull elsewhere is its copy; this says which namespaces it targets and why\n", cps.Name),
		fmt.Sprintf("              kubectl label namespace %s regcred.dev/test=dm   # ClusterPullSecret %s targets namespaces labelled so: regcred-controller then copies %s/pull here and adds it to the ServiceAccounts it serves\n", app, cps.Name, src),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "kubectl apply") {
		t.Errorf("doctor copies a copy by hand:\n%s", out)
	}
	t.Logf("kubectl regcred doctor -n %s --offline\n%s", app, out)
}
