package serviceaccount

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Edit is what Attach or Detach did to one ServiceAccount's imagePullSecrets, kept so
// that Undo can take back that change and nothing else.
type Edit struct {
	Namespace, ServiceAccount, Secret string
	// Changed reports whether the list changed.
	Changed bool
	// Detached reports whether the entry was removed (by Detach) rather than added.
	Detached bool
	// At is where Detach found the entry: Undo puts it back there.
	At int
}

// Attach adds secret to the ServiceAccount's imagePullSecrets, keeping every other
// entry. dryRun is passed to the update.
func Attach(ctx context.Context, cs kubernetes.Interface, namespace, sa, secret string, dryRun []string) (Edit, error) {
	e := Edit{Namespace: namespace, ServiceAccount: sa, Secret: secret}
	ref := corev1.LocalObjectReference{Name: secret}
	var err error
	e.Changed, err = edit(ctx, cs, namespace, sa, dryRun, func(refs []corev1.LocalObjectReference) ([]corev1.LocalObjectReference, bool) {
		if slices.Contains(refs, ref) {
			return refs, false
		}
		return append(refs, ref), true
	})
	return e, err
}

// Detach removes secret from the ServiceAccount's imagePullSecrets, keeping every other
// entry.
func Detach(ctx context.Context, cs kubernetes.Interface, namespace, sa, secret string, dryRun []string) (Edit, error) {
	e := Edit{Namespace: namespace, ServiceAccount: sa, Secret: secret, Detached: true}
	var err error
	e.Changed, err = edit(ctx, cs, namespace, sa, dryRun, func(refs []corev1.LocalObjectReference) ([]corev1.LocalObjectReference, bool) {
		e.At = slices.Index(refs, corev1.LocalObjectReference{Name: secret})
		out := slices.DeleteFunc(slices.Clone(refs), func(r corev1.LocalObjectReference) bool { return r.Name == secret })
		return out, len(out) != len(refs)
	})
	return e, err
}

// Undo takes back the edit and only it, with the same read-modify-write as the edit,
// so entries that others wrote in the meantime stay: an attached entry is removed, a
// detached one is put back where it was. It does nothing when the edit changed
// nothing, or when the list already is as it was before the edit.
func (e Edit) Undo(ctx context.Context, cs kubernetes.Interface) error {
	if !e.Changed {
		return nil
	}
	ref := corev1.LocalObjectReference{Name: e.Secret}
	_, err := edit(ctx, cs, e.Namespace, e.ServiceAccount, nil, func(refs []corev1.LocalObjectReference) ([]corev1.LocalObjectReference, bool) {
		i := slices.Index(refs, ref)
		switch {
		case e.Detached && i < 0:
			return slices.Insert(slices.Clone(refs), min(e.At, len(refs)), ref), true
		case !e.Detached && i >= 0:
			return slices.Delete(slices.Clone(refs), i, i+1), true
		default:
			return refs, false
		}
	})
	return err
}

// conflictBackoff spaces retries after a conflict with jitter, so that several writers
// racing for one ServiceAccount all get through.
var conflictBackoff = wait.Backoff{Steps: 20, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Cap: 2 * time.Second}

// edit is a read-modify-write of the list with the resourceVersion precondition that
// an Update carries, retried on conflict with a fresh read.
func edit(ctx context.Context, cs kubernetes.Interface, namespace, name string, dryRun []string, change func([]corev1.LocalObjectReference) ([]corev1.LocalObjectReference, bool)) (bool, error) {
	changed := false
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		sa, err := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		refs, ok := change(sa.ImagePullSecrets)
		changed = ok
		if !ok {
			return nil
		}
		sa.ImagePullSecrets = refs
		_, err = cs.CoreV1().ServiceAccounts(namespace).Update(ctx, sa, metav1.UpdateOptions{DryRun: dryRun, FieldManager: "kubectl-regcred"})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update serviceaccount %s/%s: %w", namespace, name, err)
	}
	return changed, nil
}
