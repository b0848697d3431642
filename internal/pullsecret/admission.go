package pullsecret

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/regcred/regcred/api/v1alpha1"
)

// PolicyName is the name of the MutatingAdmissionPolicy, and of its binding, that
// injects a ClusterPullSecret's copy into new pods: "regcred-" and the
// ClusterPullSecret's name, shortened with a hash when that is longer than an object
// name may be.
func PolicyName(cps string) string {
	name := "regcred-" + cps
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(cps))
	return name[:253-17] + "-" + hex.EncodeToString(sum[:8])
}

// AdmissionPolicy returns the MutatingAdmissionPolicy and its binding that add the
// copy to the imagePullSecrets of every pod created in a namespace the
// ClusterPullSecret targets, when the pod runs as a served ServiceAccount and does
// not name the copy yet. Namespaces listed in skip (those where a Secret of the
// copy's name is not regcred's) are left out. The policy's failures are ignored: it
// never stops a pod from being created.
//
// The mutation is a JSON patch: imagePullSecrets is an atomic list, which an apply
// configuration may not change; the patch appends one entry and so keeps the
// entries the pod set itself and those ServiceAccount admission copied in.
func AdmissionPolicy(cps *v1alpha1.ClusterPullSecret, skip []string) (*admissionv1.MutatingAdmissionPolicy, *admissionv1.MutatingAdmissionPolicyBinding) {
	name := PolicyName(cps.Name)
	secret := cps.TargetSecretName()
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				v1alpha1.LabelClusterPullSecret: cps.Name,
				v1alpha1.LabelManagedBy:         v1alpha1.ManagedBy,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterPullSecret",
				Name: cps.Name, UID: cps.UID, Controller: ptr.To(true),
			}},
		}
	}
	nsSelector := &metav1.LabelSelector{}
	if cps.Spec.NamespaceSelector != nil {
		nsSelector = cps.Spec.NamespaceSelector.DeepCopy()
	}
	conditions := []admissionv1.MatchCondition{{
		Name:       "not-named-yet",
		Expression: fmt.Sprintf("!has(object.spec.imagePullSecrets) || !object.spec.imagePullSecrets.exists(s, has(s.name) && s.name == %s)", quote(secret)),
	}}
	if expr := excludedExpression(cps, skip); expr != "" {
		conditions = append(conditions, admissionv1.MatchCondition{Name: "namespace-targeted", Expression: "!(" + expr + ")"})
	}
	if served := cps.ServedServiceAccounts(); !slices.Contains(served, "*") {
		conditions = append(conditions, admissionv1.MatchCondition{
			Name:       "service-account-served",
			Expression: fmt.Sprintf("(has(object.spec.serviceAccountName) && object.spec.serviceAccountName != '' ? object.spec.serviceAccountName : 'default') in %s", list(served)),
		})
	}
	entry := fmt.Sprintf("Object.spec.imagePullSecrets{name: %s}", quote(secret))
	policy := &admissionv1.MutatingAdmissionPolicy{
		ObjectMeta: meta(),
		Spec: admissionv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: nsSelector,
				ObjectSelector:    &metav1.LabelSelector{},
				MatchPolicy:       ptr.To(admissionv1.Equivalent),
				ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Create},
						Rule: admissionv1.Rule{
							APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
							Scope: ptr.To(admissionv1.NamespacedScope),
						},
					},
				}},
			},
			MatchConditions: conditions,
			Mutations: []admissionv1.Mutation{{
				PatchType: admissionv1.PatchTypeJSONPatch,
				JSONPatch: &admissionv1.JSONPatch{Expression: fmt.Sprintf(
					"has(object.spec.imagePullSecrets) ? "+
						"[JSONPatch{op: 'add', path: '/spec/imagePullSecrets/-', value: %[1]s}] : "+
						"[JSONPatch{op: 'add', path: '/spec/imagePullSecrets', value: [%[1]s]}]", entry)},
			}},
			FailurePolicy:      ptr.To(admissionv1.Ignore),
			ReinvocationPolicy: admissionv1.NeverReinvocationPolicy,
		},
	}
	binding := &admissionv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: meta(),
		Spec:       admissionv1.MutatingAdmissionPolicyBindingSpec{PolicyName: name},
	}
	return policy, binding
}

// excludedExpression is a CEL expression that is true for the namespaces of a pod
// the ClusterPullSecret leaves out: the source's namespace, spec.excludeNamespaces
// and skip. Empty when nothing is left out.
func excludedExpression(cps *v1alpha1.ClusterPullSecret, skip []string) string {
	var names, globs []string
	if ref := cps.Spec.Source.SecretRef; ref != nil {
		names = append(names, ref.Namespace)
	}
	for _, p := range cps.Spec.ExcludeNamespaces {
		if strings.Contains(p, "*") {
			// Patterns hold only [a-z0-9-*] (the schema says so): * is the only
			// character that means anything to a regular expression.
			globs = append(globs, strings.ReplaceAll(p, "*", ".*"))
		} else {
			names = append(names, p)
		}
	}
	names = append(names, skip...)
	slices.Sort(names)
	names = slices.Compact(names)
	var parts []string
	if len(names) > 0 {
		parts = append(parts, "request.namespace in "+list(names))
	}
	if len(globs) > 0 {
		parts = append(parts, "request.namespace.matches("+quote("^(?:"+strings.Join(globs, "|")+")$")+")")
	}
	return strings.Join(parts, " || ")
}

// quote is a CEL string literal.
func quote(s string) string { return strconv.Quote(s) }

// list is a CEL list of string literals.
func list(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
