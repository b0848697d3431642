package pullsecret

import (
	"fmt"
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/regcred/regcred/api/v1alpha1"
)

// Selector is a ClusterPullSecret's namespace selection, parsed once.
type Selector struct {
	sourceNamespace string
	labels          labels.Selector
	exclude         []string
}

// NewSelector parses the ClusterPullSecret's namespaceSelector. An error means the
// selector cannot be used; it targets nothing then.
func NewSelector(cps *v1alpha1.ClusterPullSecret) (*Selector, error) {
	s := &Selector{exclude: cps.Spec.ExcludeNamespaces, labels: labels.Everything()}
	if ref := cps.Spec.Source.SecretRef; ref != nil {
		s.sourceNamespace = ref.Namespace
	}
	if cps.Spec.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(cps.Spec.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("spec.namespaceSelector: %w", err)
		}
		s.labels = sel
	}
	return s, nil
}

// Targets reports whether the namespace gets a copy: it matches the selector, is not
// excluded, is not the source's namespace and is not terminating.
func (s *Selector) Targets(ns metav1.Object) bool {
	if ns.GetDeletionTimestamp() != nil || ns.GetName() == s.sourceNamespace {
		return false
	}
	if Excluded(s.exclude, ns.GetName()) {
		return false
	}
	return s.labels.Matches(labels.Set(ns.GetLabels()))
}

// Excluded reports whether a namespace name matches one of the patterns, where *
// stands for any run of characters.
func Excluded(patterns []string, name string) bool {
	for _, p := range patterns {
		// Namespace names hold no path separators, brackets, ? or backslashes (the
		// schema allows only [a-z0-9-*]), so path.Match sees only literals and *.
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
