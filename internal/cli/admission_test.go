package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// refuse makes the API server refuse the operations on resource (of API group group)
// in namespace ns until the test ends, with a ValidatingAdmissionPolicy: the API
// server's own admission, as a cluster's policy would refuse a write. It returns the
// message the refusals carry, once the API server applies the policy.
func refuse(t *testing.T, ns, group, resource string, ops ...admissionv1.OperationType) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("refuse-%s-%s-%s", strings.ToLower(string(ops[0])), resource, ns)
	var quoted []string
	for _, op := range ops {
		quoted = append(quoted, fmt.Sprintf("%q", op))
	}
	// A dry-run ConfigMap of the policy's own name tells when the policy is in force.
	match := fmt.Sprintf(`(request.namespace == %q && request.resource.resource == %q && request.operation in [%s]) || (request.resource.resource == "configmaps" && request.name == %q)`,
		ns, resource, strings.Join(quoted, ", "), name)
	message := "refused by test policy " + name
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
					Rule:       admissionv1.Rule{APIGroups: []string{"", group}, APIVersions: []string{"v1"}, Resources: []string{resource, "configmaps"}},
				},
			}}},
			MatchConditions: []admissionv1.MatchCondition{{Name: "target", Expression: match}},
			Validations:     []admissionv1.Validation{{Expression: "false", Message: message}},
		},
	}
	policies := kube.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	if _, err := policies.Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bindings := kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = bindings.Delete(ctx, name, metav1.DeleteOptions{})
		_ = policies.Delete(ctx, name, metav1.DeleteOptions{})
	})
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), message) {
			return message
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy %s not in force after 30s: probe got %v", name, err)
		}
	}
}
