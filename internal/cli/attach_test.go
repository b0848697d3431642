package cli_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/serviceaccount"
)

func pullSecretFor(t *testing.T, ns, name string) {
	t.Helper()
	createSecret(t, ns, name, corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"r.example.com":{"username":"u","password":"p"}}}`})
}

func saSecrets(t *testing.T, ns, sa string) string {
	t.Helper()
	got, err := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), sa, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return refNames(got.ImagePullSecrets)
}

func TestAttachKeepsOtherEntries(t *testing.T) {
	ns := newNamespace(t, "attach")
	pullSecretFor(t, ns, "regcred")
	newServiceAccount(t, ns, "ci", "team-a", "team-b")
	out, errOut, code := runCmd(t, "attach", "regcred", "--serviceaccount", "ci,default", "-n", ns)
	if code != 0 {
		t.Fatalf("attach: exit %d, %q", code, errOut)
	}
	if got := saSecrets(t, ns, "ci"); got != "team-a,team-b,regcred" {
		t.Errorf("ci imagePullSecrets = %s, want team-a,team-b,regcred", got)
	}
	if !strings.Contains(out, "serviceaccount/ci in "+ns+" attached") {
		t.Errorf("attach output = %q", out)
	}
	// Again: nothing to do.
	out, _, _ = runCmd(t, "attach", "regcred", "--serviceaccount", "ci", "-n", ns)
	if !strings.Contains(out, "unchanged") || saSecrets(t, ns, "ci") != "team-a,team-b,regcred" {
		t.Errorf("second attach: %q, list %s", out, saSecrets(t, ns, "ci"))
	}
	if _, errOut, code := runCmd(t, "detach", "regcred", "--serviceaccount", "ci", "-n", ns); code != 0 {
		t.Fatalf("detach: %q", errOut)
	}
	if got := saSecrets(t, ns, "ci"); got != "team-a,team-b" {
		t.Errorf("after detach ci imagePullSecrets = %s, want team-a,team-b", got)
	}
}

// TestAttachUnderConcurrentUpdates attaches while other writers add their own entries:
// with the resourceVersion precondition and retries, no entry is lost.
func TestAttachUnderConcurrentUpdates(t *testing.T) {
	ns := newNamespace(t, "concurrent")
	pullSecretFor(t, ns, "regcred")
	newServiceAccount(t, ns, "busy")
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := serviceaccount.Attach(context.Background(), kube, ns, "busy", fmt.Sprintf("other-%d", i), nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, errOut, code := runCmd(t, "attach", "regcred", "--serviceaccount", "busy", "-n", ns); code != 0 {
			errs <- fmt.Errorf("attach: %s", errOut)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := saSecrets(t, ns, "busy")
	for i := range writers {
		if !strings.Contains(got+",", fmt.Sprintf("other-%d,", i)) {
			t.Errorf("entry other-%d lost: %s", i, got)
		}
	}
	if !strings.Contains(got, "regcred") {
		t.Errorf("regcred not attached: %s", got)
	}
}

func TestAttachReportsAndRestartsStalePods(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "stale")
	pullSecretFor(t, ns, "regcred")
	newDeploymentWithPod(t, ns, "web", nil)
	newDeploymentWithPod(t, ns, "own", []string{"theirs"})
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, bare, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	_, errOut, code := runCmd(t, "attach", "regcred", "--serviceaccount", "default", "-n", ns)
	if code != 0 {
		t.Fatalf("attach: %q", errOut)
	}
	for _, want := range []string{
		"(Deployment/web) will not see regcred until recreated: kubectl rollout restart Deployment/web",
		"(Deployment/own) sets its own imagePullSecrets",
		"pod " + ns + "/bare (Pod/bare) will not see regcred until recreated: delete it",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("attach report lacks %q:\n%s", want, errOut)
		}
	}

	out, errOut, code := runCmd(t, "attach", "regcred", "--serviceaccount", "default", "-n", ns, "--restart")
	if code != 0 || !strings.Contains(out, "Deployment/web in "+ns+" restarted") {
		t.Fatalf("attach --restart: exit %d, %q %q", code, out, errOut)
	}
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Error("Deployment web was not restarted")
	}
	own, _ := kube.AppsV1().Deployments(ns).Get(ctx, "own", metav1.GetOptions{})
	if own.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != "" {
		t.Error("Deployment own was restarted though a restart cannot help it")
	}
}

func TestAttachBadInput(t *testing.T) {
	ns := newNamespace(t, "attachbad")
	pullSecretFor(t, ns, "regcred")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no serviceaccount", []string{"attach", "regcred", "-n", ns}, "--serviceaccount is required"},
		{"star and names", []string{"attach", "regcred", "--serviceaccount", "*,a", "-n", ns}, "means all"},
		{"missing secret", []string{"attach", "nope", "--serviceaccount", "default", "-n", ns}, "does not exist: create it first"},
		{"missing serviceaccount", []string{"attach", "regcred", "--serviceaccount", "default,ghost", "-n", ns}, "ghost"},
		{"restart with dry run", []string{"attach", "regcred", "--serviceaccount", "default", "-n", ns, "--restart", "--dry-run=server"}, "--restart does not go with --dry-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCmd(t, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, %q; want exit 2 with %q", code, errOut, tt.want)
			}
		})
	}
	if got := saSecrets(t, ns, "default"); got != "" {
		t.Errorf("bad input changed the default ServiceAccount: %s", got)
	}
}

// newDeploymentWithPod makes a Deployment, a ReplicaSet and a pod owned as the
// controllers would (envtest runs no controllers).
func newDeploymentWithPod(t *testing.T, ns, name string, pullSecrets []string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	var refs []corev1.LocalObjectReference
	for _, s := range pullSecrets {
		refs = append(refs, corev1.LocalObjectReference{Name: s})
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}, ImagePullSecrets: refs}
	d, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	rs, err := kube.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: ns, OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1-abc", Namespace: ns, Labels: labels, OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec:       spec,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAttachUndoesWhenAWriteIsRefused has the API server refuse the ServiceAccount
// update in the second namespace of attach -A and detach -A: the first namespace's
// ServiceAccount is put back as it was, entries and order, and the command fails.
func TestAttachUndoesWhenAWriteIsRefused(t *testing.T) {
	tests := []struct {
		command string
		// before is the first namespace's ServiceAccount list; SECRET is the Secret.
		before, want string
	}{
		{"attach", "x,y", "undone: serviceaccount/ci in FIRST: SECRET taken off again, other entries kept"},
		{"detach", "x,SECRET,y", "undone: serviceaccount/ci in FIRST: SECRET put back where it was, other entries kept"},
	}
	for i, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			secret := fmt.Sprintf("undo-%s-%d", tt.command, i)
			first, second := newNamespace(t, "saundo"), newNamespace(t, "saundo")
			if second < first {
				first, second = second, first // -A goes through the namespaces in sort order
			}
			before := strings.ReplaceAll(tt.before, "SECRET", secret)
			for _, ns := range []string{first, second} {
				pullSecretFor(t, ns, secret)
				newServiceAccount(t, ns, "ci", strings.Split(before, ",")...)
			}
			message := refuse(t, second, "", "serviceaccounts", admissionv1.Update)

			out, errOut, code := runCmd(t, tt.command, secret, "--serviceaccount", "ci", "-A")
			if code != 2 {
				t.Errorf("exit %d, want 2; stdout %q", code, out)
			}
			want := strings.NewReplacer("FIRST", first, "SECRET", secret).Replace(tt.want)
			for _, w := range []string{want, "error: undid the 1 change this run made before it failed (listed above): update serviceaccount " + second + "/ci: ", message} {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			for _, ns := range []string{first, second} {
				if got := saSecrets(t, ns, "ci"); got != before {
					t.Errorf("serviceaccount %s/ci imagePullSecrets = %s, want %s (as before the run)", ns, got, before)
				}
			}
		})
	}
}

// TestServiceAccountUndoKeepsOthersEntries undoes an attach and a detach after another
// writer changed the list: only this run's change is taken back.
func TestServiceAccountUndoKeepsOthersEntries(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "saundo")
	tests := []struct {
		name   string
		before string
		edit   func(context.Context, kubernetes.Interface, string, string, string, []string) (serviceaccount.Edit, error)
		want   string
	}{
		{"attach", "a,b", serviceaccount.Attach, "a,b,other"},
		{"detach", "a,regcred,b", serviceaccount.Detach, "a,regcred,b,other"},
		{"attach of an entry already there", "regcred", serviceaccount.Attach, "regcred,other"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := fmt.Sprintf("sa-%d", i)
			newServiceAccount(t, ns, sa, strings.Split(tt.before, ",")...)
			e, err := tt.edit(ctx, kube, ns, sa, "regcred", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := serviceaccount.Attach(ctx, kube, ns, sa, "other", nil); err != nil {
				t.Fatal(err)
			}
			if err := e.Undo(ctx, kube); err != nil {
				t.Fatal(err)
			}
			if got := saSecrets(t, ns, sa); got != tt.want {
				t.Errorf("after %s, another writer's attach and the undo: imagePullSecrets = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
}

// TestAttachRestartFails has the API server refuse the rollout restart: attach
// --restart fails, naming the workload and the reason, and the Secret stays attached.
func TestAttachRestartFails(t *testing.T) {
	ns := newNamespace(t, "restartfail")
	pullSecretFor(t, ns, "regcred")
	newDeploymentWithPod(t, ns, "web", nil)
	message := refuse(t, ns, "apps", "deployments", admissionv1.Update)

	out, errOut, code := runCmd(t, "attach", "regcred", "--serviceaccount", "default", "-n", ns, "--restart")
	if code != 2 {
		t.Errorf("attach --restart with a refused restart: exit %d, want 2; stdout %q", code, out)
	}
	want := "error: regcred is attached, but --restart failed: restart Deployment/web in " + ns + ": "
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, message) || !strings.Contains(errOut, "(retry: kubectl rollout restart Deployment/web -n "+ns+")") {
		t.Errorf("stderr = %q, want %q with the reason %q and how to retry", errOut, want, message)
	}
	if strings.Contains(out, "restarted") {
		t.Errorf("stdout says restarted: %q", out)
	}
	if got := saSecrets(t, ns, "default"); got != "regcred" {
		t.Errorf("default imagePullSecrets = %s, want regcred (the attach succeeded and stays)", got)
	}
}
