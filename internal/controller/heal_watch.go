package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/regcred/regcred/api/v1alpha1"
)

// setupHealer adds the heal controller: its unit of work is one pending pod. Besides
// the pods themselves, what can make a stuck pod healable brings it back: a copy
// made or changed in its namespace, a ServiceAccount's imagePullSecrets, a
// ClusterPullSecret's spec or admission policy.
func setupHealer(mgr manager.Manager, h *healer) error {
	cache := mgr.GetCache()
	c := mgr.GetClient()
	inNamespace := func(ctx context.Context, o client.Object) []reconcile.Request {
		return stuckPods(ctx, c, o.GetNamespace())
	}
	return builder.TypedControllerManagedBy[reconcile.Request](mgr).
		Named("heal").
		WithOptions(controller.TypedOptions[reconcile.Request]{MaxConcurrentReconciles: 4}).
		WatchesRawSource(source.Kind(cache, &corev1.Pod{}, &handler.TypedEnqueueRequestForObject[*corev1.Pod]{})).
		WatchesRawSource(source.TypedKind(cache, client.Object(&corev1.Secret{}), handler.TypedEnqueueRequestsFromMapFunc(inNamespace))).
		WatchesRawSource(source.TypedKind(cache, client.Object(&corev1.ServiceAccount{}), handler.TypedEnqueueRequestsFromMapFunc(inNamespace),
			predicate.TypedFuncs[client.Object]{UpdateFunc: serviceAccountChanged})).
		WatchesRawSource(source.Kind(cache, &v1alpha1.ClusterPullSecret{},
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, _ *v1alpha1.ClusterPullSecret) []reconcile.Request {
				return stuckPods(ctx, c, "")
			}),
			predicate.TypedFuncs[*v1alpha1.ClusterPullSecret]{UpdateFunc: healingChanged})).
		Complete(h)
}

// stuckPods lists, from the cache, the pods of a namespace ("" for all) stuck
// pulling images.
func stuckPods(ctx context.Context, c client.Reader, ns string) []reconcile.Request {
	var list corev1.PodList
	if err := c.List(ctx, &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if p := &list.Items[i]; len(stuckPulling(p)) > 0 {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
		}
	}
	return out
}

// healingChanged passes ClusterPullSecret updates that can change what the healer
// decides: the spec, and whether the admission policy gives new pods the copy.
func healingChanged(e event.TypedUpdateEvent[*v1alpha1.ClusterPullSecret]) bool {
	o, n := e.ObjectOld, e.ObjectNew
	return o.Generation != n.Generation ||
		meta.IsStatusConditionTrue(o.Status.Conditions, v1alpha1.ConditionInjection) != meta.IsStatusConditionTrue(n.Status.Conditions, v1alpha1.ConditionInjection) ||
		(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
}
