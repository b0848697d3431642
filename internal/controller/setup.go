package controller

import (
	"context"
	"fmt"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
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
	"github.com/regcred/regcred/internal/pullsecret"
)

// Options tune the controllers.
type Options struct {
	// Workers is how many pairs are reconciled at once.
	Workers int
	// Metrics are regcred's metrics; NewMetrics when nil.
	Metrics *Metrics
	// AdmissionPolicies says the API server serves MutatingAdmissionPolicy
	// (PolicyServed); the manager's cache must have been made with the same value.
	AdmissionPolicies bool
	// CredentialProviderBinDir is the folder of credential provider plugins that
	// credentialProvider sources name.
	CredentialProviderBinDir string
	// MinCredentialRefresh is the shortest wait between a successful run of a
	// credentialProvider source's plugin and the next; DefaultMinCredentialRefresh
	// when zero.
	MinCredentialRefresh time.Duration
	// HealWindow is how often, at most, the stuck pods of one owner are evicted
	// (spec.healStuckPods); 10 minutes when zero.
	HealWindow time.Duration
	// HealRetry is when an eviction the API server refused is tried again; 30
	// seconds when zero.
	HealRetry time.Duration
}

// Setup adds the ClusterPullSecret, pair and heal controllers to the manager, whose cache
// must have been made with CacheOptions.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) error {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	cs, err := corev1client.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("make the core/v1 client: %w", err)
	}
	if err := addIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("add cache indexes: %w", err)
	}
	res := newResults()
	cpsR := &cpsReconciler{cached: mgr.GetClient(), results: res, metrics: opts.Metrics, recorder: mgr.GetEventRecorder("regcred-controller"),
		admission: &admission{cached: mgr.GetClient(), live: mgr.GetAPIReader(), available: opts.AdmissionPolicies, metrics: opts.Metrics}}
	cpsR.sources = newSources(cs, cpsR.sourceChanged)
	cpsR.sources.creds = newCredentials(opts.CredentialProviderBinDir, cs, opts.MinCredentialRefresh, cpsR.credentialChanged)
	pairR := &pairReconciler{
		cached: mgr.GetClient(), live: mgr.GetAPIReader(), sources: cpsR.sources, results: res,
		expect: newExpectations(), metrics: opts.Metrics, changed: cpsR.later,
	}
	cpsR.healer = newHealer(mgr.GetClient(), mgr.GetAPIReader(), cs, cpsR.recorder, opts.Metrics, cpsR.later, opts.HealWindow, opts.HealRetry)
	if err := setupHealer(mgr, cpsR.healer); err != nil {
		return fmt.Errorf("make the heal controller: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		cpsR.sources.StopAll()
		return nil
	})); err != nil {
		return err
	}

	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ClusterPullSecret{}).
		Named("clusterpullsecret")
	if opts.AdmissionPolicies {
		// A policy or binding changed or deleted by someone else is put back.
		b = b.Owns(&admissionv1.MutatingAdmissionPolicy{}).Owns(&admissionv1.MutatingAdmissionPolicyBinding{})
	}
	err = b.
		WatchesRawSource(source.TypedFunc[reconcile.Request](func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			cpsR.self.Store(&q)
			return nil
		})).
		Complete(cpsR)
	if err != nil {
		return fmt.Errorf("make the ClusterPullSecret controller: %w", err)
	}

	c := mgr.GetClient()
	cache := mgr.GetCache()
	err = builder.TypedControllerManagedBy[Pair](mgr).
		Named("pair").
		WithOptions(controller.TypedOptions[Pair]{MaxConcurrentReconciles: opts.Workers}).
		WatchesRawSource(source.TypedFunc[Pair](func(_ context.Context, q workqueue.TypedRateLimitingInterface[Pair]) error {
			cpsR.pairs.Store(&q)
			return nil
		})).
		WatchesRawSource(source.TypedKind(cache, metaOf("Namespace"),
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, ns *metav1.PartialObjectMetadata) []Pair {
				return pairsFor(ctx, c, ns.Name, func(*v1alpha1.ClusterPullSecret) bool { return true })
			}),
			predicate.TypedFuncs[*metav1.PartialObjectMetadata]{UpdateFunc: namespaceChanged})).
		WatchesRawSource(source.TypedKind(cache, client.Object(&corev1.Secret{}),
			handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, s client.Object) []Pair {
				if cps := s.GetLabels()[v1alpha1.LabelClusterPullSecret]; cps != "" {
					return []Pair{{ClusterPullSecret: cps, Namespace: s.GetNamespace()}}
				}
				return nil
			}))).
		WatchesRawSource(source.TypedKind(cache, client.Object(&corev1.ServiceAccount{}),
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []Pair {
				sa := o.(*corev1.ServiceAccount)
				recorded := pullsecret.Added(sa)
				return pairsFor(ctx, c, sa.Namespace, func(cps *v1alpha1.ClusterPullSecret) bool {
					_, ok := recorded[cps.Name]
					return ok || cps.Patches(sa.Name)
				})
			}),
			predicate.TypedFuncs[client.Object]{UpdateFunc: serviceAccountChanged})).
		Complete(pairR)
	if err != nil {
		return fmt.Errorf("make the pair controller: %w", err)
	}
	return nil
}

// pairsFor returns the pairs of a namespace for the ClusterPullSecrets that keep.
func pairsFor(ctx context.Context, c client.Reader, ns string, keep func(*v1alpha1.ClusterPullSecret) bool) []Pair {
	var list v1alpha1.ClusterPullSecretList
	if err := c.List(ctx, &list); err != nil {
		return nil
	}
	var out []Pair
	for i := range list.Items {
		if keep(&list.Items[i]) {
			out = append(out, Pair{ClusterPullSecret: list.Items[i].Name, Namespace: ns})
		}
	}
	return out
}

// namespaceChanged passes namespace updates that can change targeting: labels and
// the start of deletion.
func namespaceChanged(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool {
	o, n := e.ObjectOld, e.ObjectNew
	if (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) {
		return true
	}
	return !equalStrings(o.Labels, n.Labels)
}

// serviceAccountChanged passes updates to what the pair controller reads.
func serviceAccountChanged(e event.TypedUpdateEvent[client.Object]) bool {
	o, n := e.ObjectOld.(*corev1.ServiceAccount), e.ObjectNew.(*corev1.ServiceAccount)
	if o.Annotations[v1alpha1.AnnotationAddedPullSecrets] != n.Annotations[v1alpha1.AnnotationAddedPullSecrets] || len(o.ImagePullSecrets) != len(n.ImagePullSecrets) {
		return true
	}
	for i := range o.ImagePullSecrets {
		if o.ImagePullSecrets[i] != n.ImagePullSecrets[i] {
			return true
		}
	}
	return false
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
