package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// makePod creates a pod and returns the imagePullSecrets the API server stored.
func makePod(t testing.TB, ns, name, serviceAccount string, pullSecrets ...string) []string {
	t.Helper()
	got, err := createPod(ns, name, serviceAccount, false, pullSecrets...)
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	return got
}

// createPod creates a pod, or with dryRun only runs admission on it, and returns the
// imagePullSecrets that came out of admission.
func createPod(ns, name, serviceAccount string, dryRun bool, pullSecrets ...string) ([]string, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName:           serviceAccount,
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "c", Image: "registry.example:5000/app:1"}},
		},
	}
	for _, p := range pullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: p})
	}
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := kube.CoreV1().Pods(ns).Create(context.Background(), pod, opts)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range got.Spec.ImagePullSecrets {
		names = append(names, r.Name)
	}
	return names, nil
}

// waitInjected waits until admission adds (or, with !want, no longer adds) the copy
// to a pod of the ServiceAccount in the namespace: the API server's policy informer
// takes a moment to see a policy come or go.
func waitInjected(t testing.TB, ns, serviceAccount, secret string, want bool) {
	t.Helper()
	eventually(t, waitFor, fmt.Sprintf("admission adds %s in %s: %v", secret, ns, want), func() error {
		got, err := createPod(ns, "probe", serviceAccount, true)
		if err != nil {
			return err
		}
		if slices.Contains(got, secret) != want {
			return fmt.Errorf("imagePullSecrets %v", got)
		}
		return nil
	})
}

func injectionCondition(t testing.TB, name string) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(getCPS(t, name).Status.Conditions, v1alpha1.ConditionInjection)
}

func waitInjection(t testing.TB, name, reason string) {
	t.Helper()
	eventually(t, waitFor, "AdmissionInjection "+reason, func() error {
		c := injectionCondition(t, name)
		if c == nil || c.Reason != reason || c.ObservedGeneration != getCPS(t, name).Generation {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
}

func policyAndBinding(name string) (*admissionv1.MutatingAdmissionPolicy, *admissionv1.MutatingAdmissionPolicyBinding, error) {
	ctx := context.Background()
	p, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Get(ctx, pullsecret.PolicyName(name), metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	b, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Get(ctx, pullsecret.PolicyName(name), metav1.GetOptions{})
	return p, b, err
}

func noPolicy(name string) error {
	_, _, err := policyAndBinding(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("policy or binding still there (%v)", err)
}

func TestInjectionAtAdmission(t *testing.T) {
	if !policies {
		t.Fatal("the test API server does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy")
	}
	defer startController(t)()
	data := pullConfig(t, "registry.example:5000", "alice", "s3cret")
	sourceSecret(t, "inj-src", "creds", data)
	lbl := map[string]string{"test": "inj"}
	for _, ns := range []string{"inj-a", "inj-skip-1", "inj-conf"} {
		makeNamespace(t, ns, lbl)
	}
	makeNamespace(t, "inj-other", nil)
	for _, ns := range []string{"inj-a", "inj-skip-1", "inj-conf", "inj-other"} {
		makeServiceAccount(t, ns, "default", "mine") // a person's own entry
		makeServiceAccount(t, ns, "builder")
		makeServiceAccount(t, ns, "other")
	}
	// A Secret of the copy's name that regcred did not make: no pod there may be
	// pointed at it.
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "inj-conf", Name: "inj"}, StringData: map[string]string{"k": "v"}}
	if _, err := kube.CoreV1().Secrets("inj-conf").Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeCPS(t, "inj", "inj-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		selectTest("inj")(c)
		c.Spec.ExcludeNamespaces = []string{"inj-skip*"}
		c.Spec.ServiceAccounts = []string{"default", "builder"}
		c.Spec.PatchServiceAccounts = ptr.To(false) // injection alone
	})
	waitInjection(t, "inj", v1alpha1.ReasonPolicyReady)
	eventually(t, waitFor, "conflict in inj-conf", func() error {
		return statusIs("inj", v1alpha1.NamespaceCounts{Targeted: 2, Synced: 1, Conflict: 1}, metav1.ConditionFalse)
	})
	eventually(t, waitFor, "policy skips inj-conf", func() error {
		p, _, err := policyAndBinding("inj")
		if err != nil {
			return err
		}
		for _, c := range p.Spec.MatchConditions {
			if c.Name == "namespace-targeted" && strings.Contains(c.Expression, `"inj-conf"`) {
				return nil
			}
		}
		return fmt.Errorf("match conditions %+v", p.Spec.MatchConditions)
	})
	if err := refs("inj-a", "default", "mine"); err != nil {
		t.Errorf("patchServiceAccounts false: %v", err)
	}
	waitInjected(t, "inj-a", "builder", "inj", true)

	// envtest's API server runs without ServiceAccount admission, so nothing is
	// copied from ServiceAccounts here; the e2e suite shows both together.
	cases := []struct {
		name, ns, sa string
		own          []string
		want         []string
	}{
		{"served ServiceAccount", "inj-a", "default", nil, []string{"inj"}},
		{"no serviceAccountName means default", "inj-a", "", nil, []string{"inj"}},
		{"the pod's own list kept", "inj-a", "builder", []string{"own-1", "own-2"}, []string{"own-1", "own-2", "inj"}},
		{"no list at all", "inj-a", "builder", nil, []string{"inj"}},
		{"already named: no duplicate", "inj-a", "builder", []string{"inj", "own"}, []string{"inj", "own"}},
		{"ServiceAccount not served", "inj-a", "other", []string{"own"}, []string{"own"}},
		{"excluded namespace", "inj-skip-1", "builder", nil, nil},
		{"namespace not selected", "inj-other", "builder", nil, nil},
		{"namespace in conflict", "inj-conf", "builder", nil, nil},
		{"source namespace", "inj-src", "default", nil, nil},
	}
	makeServiceAccount(t, "inj-src", "default")
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := makePod(t, c.ns, fmt.Sprintf("p%d", i), c.sa, c.own...)
			if !slices.Equal(got, c.want) {
				t.Errorf("imagePullSecrets = %v, want %v", got, c.want)
			}
		})
	}

	// Nothing is written when nothing changed: a reconcile of the ClusterPullSecret
	// (a label on it changes nothing the policy says) leaves the policy's version.
	p0, b0, err := policyAndBinding("inj")
	if err != nil {
		t.Fatal(err)
	}
	updateCPS(t, "inj", func(c *v1alpha1.ClusterPullSecret) { c.Labels = map[string]string{"touched": "yes"} })
	updateCPS(t, "inj", func(c *v1alpha1.ClusterPullSecret) { c.Labels = map[string]string{"touched": "again"} })
	waitInjection(t, "inj", v1alpha1.ReasonPolicyReady)
	p1, b1, err := policyAndBinding("inj")
	if err != nil {
		t.Fatal(err)
	}
	if p1.ResourceVersion != p0.ResourceVersion || b1.ResourceVersion != b0.ResourceVersion {
		t.Errorf("policy or binding rewritten with nothing changed: resourceVersions %s→%s, %s→%s", p0.ResourceVersion, p1.ResourceVersion, b0.ResourceVersion, b1.ResourceVersion)
	}

	// A binding deleted by hand comes back; a policy changed by hand is put back.
	if err := kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Delete(context.Background(), pullsecret.PolicyName("inj"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p1.Spec.FailurePolicy = ptr.To(admissionv1.Fail)
	if _, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Update(context.Background(), p1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "policy and binding restored", func() error {
		p, _, err := policyAndBinding("inj")
		if err != nil {
			return err
		}
		if *p.Spec.FailurePolicy != admissionv1.Ignore {
			return fmt.Errorf("failurePolicy %s", *p.Spec.FailurePolicy)
		}
		return nil
	})

	// Turned off: policy and binding go, and new pods get nothing.
	updateCPS(t, "inj", func(c *v1alpha1.ClusterPullSecret) { c.Spec.InjectAtAdmission = ptr.To(false) })
	waitInjection(t, "inj", v1alpha1.ReasonInjectionDisabled)
	eventually(t, waitFor, "policy removed", func() error { return noPolicy("inj") })
	waitInjected(t, "inj-a", "builder", "inj", false)
	if got := makePod(t, "inj-a", "off", "builder"); len(got) != 0 {
		t.Errorf("injection off: imagePullSecrets = %v, want none", got)
	}

	// On again, then the ClusterPullSecret deleted: the policy goes with it.
	updateCPS(t, "inj", func(c *v1alpha1.ClusterPullSecret) { c.Spec.InjectAtAdmission = nil })
	eventually(t, waitFor, "policy back", func() error { _, _, err := policyAndBinding("inj"); return err })
	waitInjected(t, "inj-a", "builder", "inj", true)
	deleteCPS(t, "inj")
	if err := noPolicy("inj"); err != nil {
		t.Errorf("after delete: %v", err)
	}
	waitInjected(t, "inj-a", "builder", "inj", false)
	if got := makePod(t, "inj-a", "gone", "builder"); len(got) != 0 {
		t.Errorf("after delete: imagePullSecrets = %v, want none", got)
	}
}

// A policy of someone else's that happens to have the name is not regcred's to delete.
func TestInjectionLeavesForeignPolicyAlone(t *testing.T) {
	if !policies {
		t.Fatal("the test API server does not serve MutatingAdmissionPolicy")
	}
	ctx := context.Background()
	foreign := &admissionv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: pullsecret.PolicyName("injf")},
		Spec: admissionv1.MutatingAdmissionPolicySpec{
			ReinvocationPolicy: admissionv1.NeverReinvocationPolicy,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
				Operations: []admissionv1.OperationType{admissionv1.Create},
				Rule:       admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
			}}}},
			Mutations: []admissionv1.Mutation{{PatchType: admissionv1.PatchTypeJSONPatch, JSONPatch: &admissionv1.JSONPatch{Expression: "[JSONPatch{op: 'test', path: '/metadata/name', value: object.metadata.name}]"}}},
		},
	}
	if _, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Delete(ctx, foreign.Name, metav1.DeleteOptions{})
	defer startController(t)()
	sourceSecret(t, "injf-src", "creds", pullConfig(t, "registry.example:5000", "alice", "s3cret"))
	makeCPS(t, "injf", "injf-src", "creds", selectTest("injf"))
	// Injection on: the name is taken, so regcred says so and injects nothing.
	waitInjection(t, "injf", v1alpha1.ReasonPolicyConflict)
	// No binding either: one would put someone else's policy to work.
	if _, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Get(ctx, foreign.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("binding for someone else's policy: %v", err)
	}
	updateCPS(t, "injf", func(c *v1alpha1.ClusterPullSecret) { c.Spec.InjectAtAdmission = ptr.To(false) })
	waitInjection(t, "injf", v1alpha1.ReasonInjectionDisabled)
	deleteCPS(t, "injf")
	got, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Get(ctx, foreign.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("someone else's policy: %v", err)
	}
	if got.UID == "" || got.Spec.MatchConstraints.ResourceRules[0].Resources[0] != "deployments" {
		t.Errorf("someone else's policy changed: %+v", got.Spec)
	}
}

// spec.patchServiceAccounts turned off takes back exactly the references regcred
// added; entries a person added stay, and so do the copies.
func TestPatchServiceAccountsOff(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example:5000", "alice", "s3cret")
	sourceSecret(t, "psa-src", "creds", data)
	makeNamespace(t, "psa-a", map[string]string{"test": "psa"})
	makeServiceAccount(t, "psa-a", "default", "mine")
	makeCPS(t, "psa", "psa-src", "creds", selectTest("psa"))
	eventually(t, waitFor, "reference", func() error { return refs("psa-a", "default", "mine", "psa") })
	updateCPS(t, "psa", func(c *v1alpha1.ClusterPullSecret) { c.Spec.PatchServiceAccounts = ptr.To(false) })
	eventually(t, waitFor, "reference taken back", func() error { return refs("psa-a", "default", "mine") })
	if err := copyIn("psa-a", "psa", data); err != nil {
		t.Error(err)
	}
	eventually(t, waitFor, "synced", func() error {
		return statusIs("psa", v1alpha1.NamespaceCounts{Targeted: 1, Synced: 1}, metav1.ConditionTrue)
	})
	deleteCPS(t, "psa")
}
