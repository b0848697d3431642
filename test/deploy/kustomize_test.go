package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/regcred/regcred/test/deploy"
)

// The controller's permissions, the fewest verbs that work.
var wantClusterRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"regcred.dev"}, Resources: []string{"clusterpullsecrets"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"regcred.dev"}, Resources: []string{"clusterpullsecrets/status"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"regcred.dev"}, Resources: []string{"clusterpullsecrets/finalizers"}, Verbs: []string{"update"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}, Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
}

var wantLeaderElectionRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
}

func TestKustomizeDefault(t *testing.T) {
	objs := kustomized(t)
	want := []string{
		"ClusterRole /regcred-controller",
		"ClusterRoleBinding /regcred-controller",
		"CustomResourceDefinition /clusterpullsecrets.regcred.dev",
		"Deployment regcred-system/regcred-controller",
		"Namespace /regcred-system",
		"PodDisruptionBudget regcred-system/regcred-controller",
		"Role regcred-system/regcred-controller-leader-election",
		"RoleBinding regcred-system/regcred-controller-leader-election",
		"Service regcred-system/regcred-controller-metrics",
		"ServiceAccount regcred-system/regcred-controller",
	}
	if diff := cmp.Diff(want, names(objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantClusterRules, rules(t, objs, "ClusterRole")); diff != "" {
		t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLeaderElectionRules, rules(t, objs, "Role")); diff != "" {
		t.Errorf("Role rules (-want +got):\n%s", diff)
	}
	ns := find(t, objs, "Namespace").GetLabels()
	if ns["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace labels %v, want the restricted Pod Security Standard enforced", ns)
	}
	if c := controller(t, deployment(t, objs)); c.Image != "regcred-controller:latest" {
		t.Errorf("image %q, want regcred-controller:latest", c.Image)
	}
}

// An overlay's images entry sets the controller's image.
func TestKustomizeImageOverride(t *testing.T) {
	dir := t.TempDir()
	base, err := filepath.Rel(dir, filepath.Join(deploy.ConfigDir(), "default")) // kustomize takes no absolute bases
	if err != nil {
		t.Fatal(err)
	}
	k := "resources:\n- " + base + "\n" +
		"images:\n- name: regcred-controller\n  newName: 127.0.0.1:5000/regcred/regcred-controller\n  newTag: e2e\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := deploy.Kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := controller(t, deployment(t, objs)); c.Image != "127.0.0.1:5000/regcred/regcred-controller:e2e" {
		t.Errorf("image %q, want the overlay's 127.0.0.1:5000/regcred/regcred-controller:e2e", c.Image)
	}
}
