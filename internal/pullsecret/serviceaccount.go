package pullsecret

import (
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/api/v1alpha1"
)

// Added returns the imagePullSecrets entries regcred added to the ServiceAccount, by
// ClusterPullSecret name. An annotation that does not parse records nothing.
func Added(sa *corev1.ServiceAccount) map[string]string {
	v := sa.Annotations[v1alpha1.AnnotationAddedPullSecrets]
	if v == "" {
		return nil
	}
	var m map[string]string
	if json.Unmarshal([]byte(v), &m) != nil {
		return nil
	}
	return m
}

// RefChange is a change to one ServiceAccount: its whole new imagePullSecrets list
// (the field is atomic) and its new record annotation ("" removes it).
type RefChange struct {
	ImagePullSecrets []corev1.LocalObjectReference
	Annotation       string
}

// Reference plans the ServiceAccount change that makes it reference secretName for
// the ClusterPullSecret (want) or drops what regcred added for it (!want). It returns
// nil when nothing changes. Entries are never reordered; an entry regcred did not add
// is never removed, and one that was already there is not recorded as regcred's.
func Reference(sa *corev1.ServiceAccount, cps, secretName string, want bool) *RefChange {
	added := Added(sa)
	list := slices.Clone(sa.ImagePullSecrets)
	changed := false
	// Drop regcred's earlier entry when it is no longer wanted or names another Secret,
	// unless another ClusterPullSecret recorded the same name.
	if had, ok := added[cps]; ok && (!want || had != secretName) {
		delete(added, cps)
		changed = true
		if !recordedByOther(added, had) {
			list = slices.DeleteFunc(list, func(r corev1.LocalObjectReference) bool { return r.Name == had })
		}
	}
	if want && !slices.ContainsFunc(list, func(r corev1.LocalObjectReference) bool { return r.Name == secretName }) {
		list = append(list, corev1.LocalObjectReference{Name: secretName})
		if added == nil {
			added = map[string]string{}
		}
		added[cps] = secretName
		changed = true
	}
	if !changed {
		return nil
	}
	c := &RefChange{ImagePullSecrets: list}
	if len(added) > 0 {
		b, _ := json.Marshal(added) // map[string]string always marshals; keys sorted
		c.Annotation = string(b)
	}
	return c
}

func recordedByOther(added map[string]string, secret string) bool {
	for _, s := range added {
		if s == secret {
			return true
		}
	}
	return false
}
