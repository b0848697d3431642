package controller

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// maxConflictRetries bounds the re-reads after a ServiceAccount changed under a write.
const maxConflictRetries = 5

// reference makes the ServiceAccount reference secretName for the ClusterPullSecret
// (want) or takes back what regcred added for it (!want). imagePullSecrets is an
// atomic list, so the whole list goes in a merge patch that carries the
// resourceVersion it was computed from: the API server refuses it if anyone wrote in
// between, and then the ServiceAccount is read again and the change worked out anew.
func (r *pairReconciler) reference(ctx context.Context, sa *corev1.ServiceAccount, cps, secretName string, want bool) (bool, error) {
	return r.patchServiceAccount(ctx, sa, func(sa *corev1.ServiceAccount) *pullsecret.RefChange {
		return pullsecret.Reference(sa, cps, secretName, want)
	})
}

// forgetRecord drops the ClusterPullSecret from the ServiceAccount's record and
// leaves its imagePullSecrets as they are (deletionPolicy Orphan).
func (r *pairReconciler) forgetRecord(ctx context.Context, sa *corev1.ServiceAccount, cps string) (bool, error) {
	return r.patchServiceAccount(ctx, sa, func(sa *corev1.ServiceAccount) *pullsecret.RefChange {
		added := pullsecret.Added(sa)
		if _, ok := added[cps]; !ok {
			return nil
		}
		delete(added, cps)
		c := &pullsecret.RefChange{ImagePullSecrets: sa.ImagePullSecrets}
		if len(added) > 0 {
			b, _ := json.Marshal(added)
			c.Annotation = string(b)
		}
		return c
	})
}

func (r *pairReconciler) patchServiceAccount(ctx context.Context, sa *corev1.ServiceAccount, plan func(*corev1.ServiceAccount) *pullsecret.RefChange) (bool, error) {
	key := types.NamespacedName{Namespace: sa.Namespace, Name: sa.Name}
	ekey := "sa/" + key.String()
	if r.expect.Pending(ekey, sa.ResourceVersion, true) {
		return false, nil // our last patch has not reached the cache yet
	}
	for try := 0; ; try++ {
		change := plan(sa)
		if change == nil {
			return false, nil
		}
		patch, err := refPatch(sa.ResourceVersion, change)
		if err != nil {
			return false, err
		}
		target := &corev1.ServiceAccount{}
		target.Namespace, target.Name = sa.Namespace, sa.Name
		err = r.cached.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch))
		switch {
		case err == nil:
			r.expect.Expect(ekey, sa.ResourceVersion)
			r.metrics.writes.WithLabelValues("ServiceAccount", "patch").Inc()
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case !apierrors.IsConflict(err) || try == maxConflictRetries:
			return false, fmt.Errorf("patch ServiceAccount %s: %w", key, err)
		}
		sa = &corev1.ServiceAccount{}
		if err := r.live.Get(ctx, key, sa); err != nil {
			return false, client.IgnoreNotFound(err)
		}
	}
}

// refPatch is a merge patch that sets imagePullSecrets whole and regcred's record,
// guarded by the resourceVersion the change was computed from.
func refPatch(rv string, c *pullsecret.RefChange) ([]byte, error) {
	var annotation any // null removes it
	if c.Annotation != "" {
		annotation = c.Annotation
	}
	var list any // null removes the field
	if len(c.ImagePullSecrets) > 0 {
		list = c.ImagePullSecrets
	}
	return json.Marshal(map[string]any{
		"metadata": map[string]any{
			"resourceVersion": rv,
			"annotations":     map[string]any{v1alpha1.AnnotationAddedPullSecrets: annotation},
		},
		"imagePullSecrets": list,
	})
}
