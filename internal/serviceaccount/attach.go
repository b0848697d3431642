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

// Attach adds secret to the ServiceAccount's imagePullSecrets, keeping every other
// entry. It reports whether the list changed. dryRun is passed to the update.
func Attach(ctx context.Context, cs kubernetes.Interface, namespace, sa, secret string, dryRun []string) (bool, error) {
	return edit(ctx, cs, namespace, sa, dryRun, func(refs []corev1.LocalObjectReference) ([]corev1.LocalObjectReference, bool) {
		if slices.Contains(refs, corev1.LocalObjectReference{Name: secret}) {
			return refs, false
		}
		return append(refs, corev1.LocalObjectReference{Name: secret}), true
	})
}

// Detach removes secret from the ServiceAccount's imagePullSecrets, keeping every other
// entry. It reports whether the list changed.
func Detach(ctx context.Context, cs kubernetes.Interface, namespace, sa, secret string, dryRun []string) (bool, error) {
	return edit(ctx, cs, namespace, sa, dryRun, func(refs []corev1.LocalObjectReference) ([]corev1.LocalObjectReference, bool) {
		out := slices.DeleteFunc(slices.Clone(refs), func(r corev1.LocalObjectReference) bool { return r.Name == secret })
		return out, len(out) != len(refs)
	})
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
