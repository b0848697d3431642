//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/helmbin"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

var cpsResource = schema.GroupVersionResource{Group: "regcred.dev", Version: "v1alpha1", Resource: "clusterpullsecrets"}

// TestControllerInCluster installs regcred-controller with its Helm chart, the image
// pushed to the cluster's registry, and runs it as two pods that reach the API
// server on the bridge address. It then follows a ClusterPullSecret through a new
// namespace, a password rotation, the loss of the leader, and uninstall.
func TestControllerInCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := local.Client
	dyn, err := dynamic.NewForConfig(local.Config)
	if err != nil {
		t.Fatal(err)
	}

	pw1 := "first-" + fmt.Sprint(time.Now().UnixNano())
	reg := privateRegistry(ctx, t, "controller-e2e", registry.Options{Auth: registry.AuthBasic, Users: map[string]string{"carol": pw1}})
	before := pullSecretLists(ctx, t)

	installController(ctx, t, "regcred", "regcred-system")
	uninstalled := false
	defer func() {
		if !uninstalled {
			helmQuiet("uninstall", "regcred", "--namespace", "regcred-system")
		}
	}()
	pods, err := cs.CoreV1().Pods("regcred-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=regcred"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pods.Items); n != 2 {
		t.Fatalf("%d controller pods, want 2", n)
	}

	// The source, and a ClusterPullSecret for the namespaces this test labels.
	if err := workload.Namespace(ctx, cs, "ctl-src"); err != nil {
		t.Fatal(err)
	}
	cfg1 := pullConfig(t, reg.Host, "carol", pw1)
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ctl-src", Name: "creds"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg1}}
	if _, err := cs.CoreV1().Secrets("ctl-src").Create(ctx, src, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, dyn, "team-pull", `{"apiVersion":"regcred.dev/v1alpha1","kind":"ClusterPullSecret","metadata":{"name":"team-pull"},
		"spec":{"source":{"secretRef":{"namespace":"ctl-src","name":"creds"}},"namespaceSelector":{"matchLabels":{"regcred-e2e":"controller"}}}}`)

	// A namespace made afterwards gets the copy, its default ServiceAccount the
	// reference, and a Deployment of the private image runs.
	labelledNamespace(ctx, t, "ctl-app")
	waitFor(ctx, t, "copy and reference in ctl-app", func() error { return synced(ctx, "ctl-app", "team-pull", cfg1) })
	always := func(spec *corev1.PodSpec) { spec.Containers[0].ImagePullPolicy = corev1.PullAlways }
	if err := workload.DeploymentWith(ctx, cs, "ctl-app", "app", reg.Ref("team/app:1"), always); err != nil {
		t.Fatal(err)
	}
	first, err := cluster.WaitForPodSelected(ctx, cs, "ctl-app", "app=app", cluster.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	copy1, err := cs.CoreV1().Secrets("ctl-app").Get(ctx, "team-pull", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Metrics, scraped from the leader's pod IP.
	leader := leaderPod(ctx, t)
	checkMetrics(ctx, t, leader)

	// Rotate the password at the registry and in the source: the copy changes in
	// place, and a restart pulls (policy Always) with the new password.
	pw2 := "second-" + fmt.Sprint(time.Now().UnixNano())
	if err := reg.SetPassword("carol", pw2); err != nil {
		t.Fatal(err)
	}
	cfg2 := pullConfig(t, reg.Host, "carol", pw2)
	src, err = cs.CoreV1().Secrets("ctl-src").Get(ctx, "creds", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src.Data[corev1.DockerConfigJsonKey] = cfg2
	if _, err := cs.CoreV1().Secrets("ctl-src").Update(ctx, src, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "rotated copy", func() error { return synced(ctx, "ctl-app", "team-pull", cfg2) })
	copy2, err := cs.CoreV1().Secrets("ctl-app").Get(ctx, "team-pull", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if copy2.UID != copy1.UID {
		t.Errorf("copy was recreated (UID %s, then %s), not updated in place", copy1.UID, copy2.UID)
	}
	if err := workload.RolloutRestart(ctx, cs, "ctl-app", "app"); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "restarted pod running", func() error {
		list, err := cs.CoreV1().Pods("ctl-app").List(ctx, metav1.ListOptions{LabelSelector: "app=app"})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if ok, _ := cluster.PodRunning(&p); ok && p.UID != first.UID {
				return nil
			}
		}
		return fmt.Errorf("no new running pod among %d", len(list.Items))
	})

	// Delete the leader: the other replica takes over and keeps reconciling.
	if err := cs.CoreV1().Pods("regcred-system").Delete(ctx, leader.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "a new leader", func() error {
		holder, err := leaseHolder(ctx)
		if err != nil {
			return err
		}
		if strings.HasPrefix(holder, leader.Name+"_") {
			return fmt.Errorf("lease still held by %s", holder)
		}
		return nil
	})
	labelledNamespace(ctx, t, "ctl-after")
	waitFor(ctx, t, "copy and reference after failover", func() error { return synced(ctx, "ctl-after", "team-pull", cfg2) })

	// The create race, closed at admission: a namespace and a Deployment applied
	// together (as kubectl apply -f dir/ sends them: the namespace, then at once the
	// Deployment), under a ClusterPullSecret that does not patch ServiceAccounts, so
	// that only the admission policy can give the pod the reference. The pod the
	// Deployment makes first runs, and is the only one it ever makes.
	injectRace(ctx, t, dyn, reg.Ref("team/app:1"))

	// Uninstall: delete the ClusterPullSecret (its copies and references go with
	// it), then the release. Nothing of regcred's is left; everything else is as it was.
	removeCPS(ctx, t, dyn, "team-pull")
	helm(ctx, t, "uninstall", "regcred", "--namespace", "regcred-system", "--wait")
	uninstalled = true
	left, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelClusterPullSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range left.Items {
		t.Errorf("copy left after uninstall: %s/%s", s.Namespace, s.Name)
	}
	after := pullSecretLists(ctx, t)
	for key, list := range after {
		if strings.HasPrefix(key, "ctl-") || strings.HasPrefix(key, "regcred-system/") {
			if list != "" {
				t.Errorf("ServiceAccount %s still has imagePullSecrets %s", key, list)
			}
			continue
		}
		if was, ok := before[key]; ok && was != list {
			t.Errorf("ServiceAccount %s: imagePullSecrets %q before, %q after", key, was, list)
		}
	}
	if s, err := cs.CoreV1().Secrets("ctl-src").Get(ctx, "creds", metav1.GetOptions{}); err != nil || string(s.Data[corev1.DockerConfigJsonKey]) != string(cfg2) {
		t.Errorf("source Secret after uninstall: %v", err)
	}
}

// injectRace applies a namespace and a Deployment of image together under a
// ClusterPullSecret with spec.patchServiceAccounts false, and checks that the first
// pod runs, unrestarted, with the copy added by the admission policy. It deletes the
// ClusterPullSecret at the end.
func injectRace(ctx context.Context, t *testing.T, dyn dynamic.Interface, image string) {
	t.Helper()
	cs := local.Client
	apply(ctx, t, dyn, "team-inject", `{"apiVersion":"regcred.dev/v1alpha1","kind":"ClusterPullSecret","metadata":{"name":"team-inject"},
		"spec":{"source":{"secretRef":{"namespace":"ctl-src","name":"creds"}},"patchServiceAccounts":false,
		"namespaceSelector":{"matchLabels":{"regcred-e2e":"inject"}}}}`)
	waitFor(ctx, t, "admission policy ready", func() error {
		u, err := dyn.Resource(cpsResource).Get(ctx, "team-inject", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds := unstructuredConditions(u.Object)
		for _, c := range conds {
			if c["type"] == v1alpha1.ConditionInjection && c["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", conds)
	})
	// The API server takes a moment to load a new policy: wait until a pod created
	// (dry run) in another namespace of the selector gets the copy. The race under
	// test is the namespace's, not the policy's: users make the ClusterPullSecret once.
	probeNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ctl-inject-probe", Labels: map[string]string{"regcred-e2e": "inject"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, probeNS, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the admission policy in force", func() error {
		probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}
		got, err := cs.CoreV1().Pods("ctl-inject-probe").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if len(got.Spec.ImagePullSecrets) == 0 {
			return fmt.Errorf("dry-run pod has no imagePullSecrets")
		}
		return nil
	})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ctl-inject", Labels: map[string]string{"regcred-e2e": "inject"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods("ctl-inject").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	always := func(spec *corev1.PodSpec) { spec.Containers[0].ImagePullPolicy = corev1.PullAlways }
	if err := workload.DeploymentWith(ctx, cs, "ctl-inject", "app", image, always); err != nil {
		t.Fatal(err)
	}
	pod, err := cluster.WaitForPodSelected(ctx, cs, "ctl-inject", "app=app", cluster.PodRunning)
	if err != nil {
		pods, _ := cs.CoreV1().Pods("ctl-inject").List(ctx, metav1.ListOptions{})
		for _, p := range pods.Items {
			t.Logf("pod %s imagePullSecrets %v", p.Name, p.Spec.ImagePullSecrets)
		}
		secrets, _ := cs.CoreV1().Secrets("ctl-inject").List(ctx, metav1.ListOptions{})
		for _, s := range secrets.Items {
			t.Logf("secret %s type %s labels %v", s.Name, s.Type, s.Labels)
		}
		u, _ := dyn.Resource(cpsResource).Get(ctx, "team-inject", metav1.GetOptions{})
		if u != nil {
			t.Logf("ClusterPullSecret status %v", u.Object["status"])
		}
		t.Fatal(err)
	}
	made := map[types.UID]bool{}
	for drained := false; !drained; {
		select {
		case e := <-w.ResultChan():
			if p, ok := e.Object.(*corev1.Pod); ok {
				made[p.UID] = true
			}
		case <-time.After(2 * time.Second):
			drained = true
		}
	}
	if len(made) != 1 || !made[pod.UID] {
		t.Errorf("the Deployment made %d pods, want only the first, %s, running", len(made), pod.Name)
	}
	var refs []string
	for _, r := range pod.Spec.ImagePullSecrets {
		refs = append(refs, r.Name)
	}
	if len(refs) != 1 || refs[0] != "team-inject" {
		t.Errorf("pod imagePullSecrets %v, want [team-inject] from the admission policy", refs)
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.RestartCount != 0 {
			t.Errorf("container %s restarted %d times", st.Name, st.RestartCount)
		}
	}
	sa, err := cs.CoreV1().ServiceAccounts("ctl-inject").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.ImagePullSecrets) != 0 {
		t.Errorf("patchServiceAccounts false, yet ServiceAccount default has %v", sa.ImagePullSecrets)
	}
	removeCPS(ctx, t, dyn, "team-inject")
	if _, err := cs.AdmissionregistrationV1().MutatingAdmissionPolicies().Get(ctx, "regcred-team-inject", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("admission policy after the ClusterPullSecret went: %v", err)
	}
}

// unstructuredConditions returns status.conditions of an unstructured object.
func unstructuredConditions(obj map[string]any) []map[string]any {
	st, _ := obj["status"].(map[string]any)
	list, _ := st["conditions"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func chartDir() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "charts", "regcred")
}

func helm(ctx context.Context, t *testing.T, args ...string) {
	t.Helper()
	bin, err := helmbin.Path(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", local.Kubeconfig)...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func helmQuiet(args ...string) {
	if bin, err := helmbin.Path(context.Background()); err == nil {
		_ = exec.Command(bin, append(args, "--kubeconfig", local.Kubeconfig)...).Run()
	}
}

func pullConfig(t *testing.T, host, user, pw string) []byte {
	t.Helper()
	b, err := dockercfg.Marshal(dockercfg.Server{Key: host, Credential: dockercfg.Credential{Username: user, Password: pw}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apply server-side applies the ClusterPullSecret named.
func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, name, doc string) {
	t.Helper()
	if _, err := dyn.Resource(cpsResource).Patch(ctx, name, types.ApplyPatchType, []byte(doc), metav1.PatchOptions{FieldManager: "e2e"}); err != nil {
		t.Fatal(err)
	}
}

func labelledNamespace(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"regcred-e2e": "controller"}}}
	if _, err := local.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// synced checks that the namespace holds the copy with the content and that its
// default ServiceAccount references it.
func synced(ctx context.Context, ns, name string, want []byte) error {
	s, err := local.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if string(s.Data[corev1.DockerConfigJsonKey]) != string(want) {
		return fmt.Errorf("copy %s/%s holds other content", ns, name)
	}
	sa, err := local.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, r := range sa.ImagePullSecrets {
		if r.Name == name {
			return nil
		}
	}
	return fmt.Errorf("ServiceAccount %s/default has %v", ns, sa.ImagePullSecrets)
}

func waitFor(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func leaseHolder(ctx context.Context) (string, error) {
	l, err := local.Client.CoordinationV1().Leases("regcred-system").Get(ctx, "regcred-controller.regcred.dev", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil {
		return "", fmt.Errorf("lease has no holder")
	}
	return *l.Spec.HolderIdentity, nil
}

func leaderPod(ctx context.Context, t *testing.T) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitFor(ctx, t, "a leader", func() error {
		holder, err := leaseHolder(ctx)
		if err != nil {
			return err
		}
		name, _, _ := strings.Cut(holder, "_")
		pod, err = local.Client.CoreV1().Pods("regcred-system").Get(ctx, name, metav1.GetOptions{})
		return err
	})
	return pod
}

func checkMetrics(ctx context.Context, t *testing.T, pod *corev1.Pod) {
	t.Helper()
	waitFor(ctx, t, "metrics", func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pod.Status.PodIP+":8080/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `regcred_namespaces{cluster_pull_secret="team-pull",state="Synced"} 1`) {
			return fmt.Errorf("no synced count for team-pull in the metrics")
		}
		return nil
	})
}

// pullSecretLists maps every ServiceAccount to its imagePullSecrets names.
func pullSecretLists(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	list, err := local.Client.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, sa := range list.Items {
		var names []string
		for _, r := range sa.ImagePullSecrets {
			names = append(names, r.Name)
		}
		out[sa.Namespace+"/"+sa.Name] = strings.Join(names, ",")
	}
	return out
}
