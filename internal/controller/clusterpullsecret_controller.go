package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// statusDelay batches the pairs' results into one status write: during a fan-out
// the status is written a few times a second, not once per namespace.
const statusDelay = 250 * time.Millisecond

// maxNotSynced caps status.notSynced.
const maxNotSynced = 20

// cpsReconciler fans a ClusterPullSecret out to pairs and sums their results.
type cpsReconciler struct {
	cached    client.Client
	sources   *sources
	results   *results
	metrics   *Metrics
	recorder  recorder.EventRecorder
	admission *admission
	healer    *healer

	pairs atomic.Pointer[workqueue.TypedRateLimitingInterface[Pair]]
	self  atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]

	mu sync.Mutex
	// fanned is what each ClusterPullSecret was last fanned out for; a fan-out
	// happens again only when it changes.
	fanned map[string]fanKey
	// told is what the Events last said, so they are sent on changes only.
	told map[string]string
}

type fanKey struct {
	uid        types.UID
	generation int64
	content    string
	deleting   bool
}

// later asks for a status update of the ClusterPullSecret shortly.
func (r *cpsReconciler) later(cps string) {
	if q := r.self.Load(); q != nil {
		(*q).AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: cps}}, statusDelay)
	}
}

// now asks for a reconcile of every ClusterPullSecret that reads the source.
func (r *cpsReconciler) sourceChanged(key types.NamespacedName) {
	q := r.self.Load()
	if q == nil {
		return
	}
	var list v1alpha1.ClusterPullSecretList
	if err := r.cached.List(context.Background(), &list); err != nil {
		return
	}
	for i := range list.Items {
		if sourceKey(&list.Items[i]) == key {
			(*q).Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}})
		}
	}
}

func (r *cpsReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if r.pairs.Load() == nil {
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	var cps v1alpha1.ClusterPullSecret
	if err := r.cached.Get(ctx, req.NamespacedName, &cps); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
		r.forget(req.Name)
		return reconcile.Result{}, r.retainSources(ctx)
	}
	if err := r.retainSources(ctx); err != nil {
		return reconcile.Result{}, err
	}
	if cps.DeletionTimestamp != nil {
		left, err := r.finalize(ctx, &cps)
		if left && err == nil {
			// Look again until the caches show nothing left: a pair whose cleanup
			// raced a restart has no result to report back.
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		return reconcile.Result{}, err
	}
	if !controllerutil.ContainsFinalizer(&cps, v1alpha1.Finalizer) {
		patch := client.MergeFromWithOptions(cps.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(&cps, v1alpha1.Finalizer)
		if err := r.cached.Patch(ctx, &cps, patch); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	src := r.sources.Of(ctx, &cps)
	if !src.Synced {
		return reconcile.Result{}, nil // the source's watch calls back once it has listed
	}
	sel, selErr := pullsecret.NewSelector(&cps)
	namespaces, err := r.namespaces(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	key := fanKey{uid: cps.UID, generation: cps.Generation, deleting: false, content: sourceSummary(src)}
	if r.fanOutNeeded(cps.Name, key) {
		if err := r.fanOut(ctx, &cps, sel, namespaces); err != nil {
			r.forgetFan(cps.Name)
			return reconcile.Result{}, err
		}
	}
	var injection metav1.Condition
	var injErr error
	if selErr != nil {
		injection = metav1.Condition{Type: v1alpha1.ConditionInjection, ObservedGeneration: cps.Generation, Status: metav1.ConditionFalse,
			Reason: "InvalidSelector", Message: selErr.Error()}
	} else {
		injection, injErr = r.admission.ensure(ctx, &cps, r.results.Namespaces(cps.Name, v1alpha1.NamespaceConflict), r.allReported(&cps, sel, namespaces))
	}
	if err := r.updateStatus(ctx, &cps, src, sel, selErr, namespaces, injection); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, injErr
}

// allReported says every namespace the ClusterPullSecret targets has a pair result.
func (r *cpsReconciler) allReported(cps *v1alpha1.ClusterPullSecret, sel *pullsecret.Selector, namespaces []metav1.PartialObjectMetadata) bool {
	res, _ := r.results.Snapshot(cps.Name)
	for i := range namespaces {
		if sel.Targets(&namespaces[i]) {
			if _, ok := res[namespaces[i].Name]; !ok {
				return false
			}
		}
	}
	return true
}

func sourceSummary(s sourceState) string {
	switch {
	case !s.Found:
		return "missing"
	case s.Err != nil:
		return "error: " + s.Err.Error()
	}
	return s.Content.Hash
}

func (r *cpsReconciler) fanOutNeeded(cps string, k fanKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fanned == nil {
		r.fanned = map[string]fanKey{}
	}
	if r.fanned[cps] == k {
		return false
	}
	r.fanned[cps] = k
	return true
}

func (r *cpsReconciler) forgetFan(cps string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.fanned, cps)
}

func (r *cpsReconciler) forget(cps string) {
	r.forgetFan(cps)
	r.mu.Lock()
	delete(r.told, cps)
	r.mu.Unlock()
	r.results.Drop(cps)
	r.metrics.forget(cps)
	r.healer.forget(cps)
}

// fanOut queues a pair for every namespace the ClusterPullSecret targets or still
// has something in.
func (r *cpsReconciler) fanOut(ctx context.Context, cps *v1alpha1.ClusterPullSecret, sel *pullsecret.Selector, namespaces []metav1.PartialObjectMetadata) error {
	managed, err := managedNamespaces(ctx, r.cached, cps.Name)
	if err != nil {
		return err
	}
	q := *r.pairs.Load()
	for i := range namespaces {
		ns := &namespaces[i]
		if managed[ns.Name] || (sel != nil && cps.DeletionTimestamp == nil && sel.Targets(ns)) {
			q.Add(Pair{ClusterPullSecret: cps.Name, Namespace: ns.Name})
		}
	}
	log.FromContext(ctx).V(1).Info("fanned out", "namespaces", len(namespaces))
	return nil
}

func (r *cpsReconciler) namespaces(ctx context.Context) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.cached.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// finalize takes back (Delete) or lets go of (Orphan) everything the
// ClusterPullSecret made, then removes its finalizer. It reports whether anything
// is left to wait for.
func (r *cpsReconciler) finalize(ctx context.Context, cps *v1alpha1.ClusterPullSecret) (bool, error) {
	if !controllerutil.ContainsFinalizer(cps, v1alpha1.Finalizer) {
		return false, nil
	}
	// New pods stop getting the copy before it goes.
	if err := r.admission.remove(ctx, cps.Name); err != nil {
		return false, err
	}
	managed, err := managedNamespaces(ctx, r.cached, cps.Name)
	if err != nil {
		return false, err
	}
	if len(managed) > 0 {
		if r.fanOutNeeded(cps.Name, fanKey{uid: cps.UID, generation: cps.Generation, deleting: true}) {
			q := *r.pairs.Load()
			for ns := range managed {
				q.Add(Pair{ClusterPullSecret: cps.Name, Namespace: ns})
			}
		}
		return true, nil
	}
	patch := client.MergeFromWithOptions(cps.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(cps, v1alpha1.Finalizer)
	if err := r.cached.Patch(ctx, cps, patch); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	r.forget(cps.Name)
	return false, nil
}

// retainSources keeps the watches of the sources that ClusterPullSecrets name.
func (r *cpsReconciler) retainSources(ctx context.Context) error {
	var list v1alpha1.ClusterPullSecretList
	if err := r.cached.List(ctx, &list); err != nil {
		return err
	}
	keep := map[types.NamespacedName]bool{}
	for i := range list.Items {
		keep[sourceKey(&list.Items[i])] = true
	}
	r.sources.Retain(keep)
	r.sources.creds.Retain(list.Items)
	return nil
}

// updateStatus sums the pairs' results into status, writes it when it changed, and
// sends an Event when what it says changed.
func (r *cpsReconciler) updateStatus(ctx context.Context, cps *v1alpha1.ClusterPullSecret, src sourceState, sel *pullsecret.Selector, selErr error, namespaces []metav1.PartialObjectMetadata, injection metav1.Condition) error {
	res, lastWrite := r.results.Snapshot(cps.Name)
	st := cps.Status.DeepCopy()
	st.ObservedGeneration = cps.Generation
	var counts v1alpha1.NamespaceCounts
	var pending int32
	var notSynced, conflicts []v1alpha1.NamespaceStatus
	for i := range namespaces {
		ns := &namespaces[i]
		if sel == nil || !sel.Targets(ns) {
			continue
		}
		counts.Targeted++
		got, ok := res[ns.Name]
		if !ok {
			got = result{State: v1alpha1.NamespacePending, Message: "not reconciled yet"}
		}
		switch got.State {
		case v1alpha1.NamespaceSynced:
			counts.Synced++
			continue
		case v1alpha1.NamespaceConflict:
			counts.Conflict++
		case v1alpha1.NamespaceFailed:
			counts.Failed++
		default:
			pending++
		}
		s := v1alpha1.NamespaceStatus{Namespace: ns.Name, State: got.State, Message: got.Message}
		notSynced = append(notSynced, s)
		if got.State == v1alpha1.NamespaceConflict {
			conflicts = append(conflicts, s)
		}
	}
	sort.Slice(notSynced, func(i, j int) bool {
		a, b := notSynced[i], notSynced[j]
		if rank(a.State) != rank(b.State) {
			return rank(a.State) < rank(b.State)
		}
		return a.Namespace < b.Namespace
	})
	if len(notSynced) > maxNotSynced {
		notSynced = notSynced[:maxNotSynced]
	}
	st.Namespaces, st.NotSynced = counts, notSynced
	if src.Content != nil && src.Err == nil {
		st.SourceHash = src.Content.Hash
	}
	if !lastWrite.IsZero() && (st.LastSyncTime == nil || lastWrite.After(st.LastSyncTime.Time)) {
		t := metav1.NewTime(lastWrite.Truncate(time.Second))
		st.LastSyncTime = &t
	}
	st.Credential = credentialStatus(cps, src)
	st.StuckPods = r.healer.stuckPods(cps.Name)
	ready, degraded := conditions(cps, src, selErr, counts, pending)
	meta.SetStatusCondition(&st.Conditions, ready)
	meta.SetStatusCondition(&st.Conditions, degraded)
	meta.SetStatusCondition(&st.Conditions, injection)
	r.metrics.setCounts(cps.Name, counts, pending)
	r.metrics.setSource(cps.Name, src.Found && src.Err == nil)
	r.tell(cps, degraded, ready, conflicts, counts)

	if equality.Semantic.DeepEqual(&cps.Status, st) {
		return nil
	}
	upd := cps.DeepCopy()
	upd.Status = *st
	if err := r.cached.Status().Update(ctx, upd); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			r.later(cps.Name) // the cache brings the newer version, and we sum again
			return nil
		}
		return fmt.Errorf("update status of ClusterPullSecret %s: %w", cps.Name, err)
	}
	return nil
}

func rank(s v1alpha1.NamespaceState) int {
	switch s {
	case v1alpha1.NamespaceFailed:
		return 0
	case v1alpha1.NamespaceConflict:
		return 1
	}
	return 2
}

// conditions says Ready and Degraded.
func conditions(cps *v1alpha1.ClusterPullSecret, src sourceState, selErr error, c v1alpha1.NamespaceCounts, pending int32) (ready, degraded metav1.Condition) {
	ref := sourceKey(cps)
	ready = metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: cps.Generation}
	degraded = metav1.Condition{Type: v1alpha1.ConditionDegraded, ObservedGeneration: cps.Generation, Status: metav1.ConditionTrue}
	credReason, credMessage, credBad := credentialConditions(cps, src)
	switch {
	case selErr != nil:
		degraded.Reason, degraded.Message = "InvalidSelector", selErr.Error()
	case credBad:
		degraded.Reason, degraded.Message = credReason, credMessage
	case !src.Found:
		degraded.Reason = v1alpha1.ReasonSourceNotFound
		degraded.Message = fmt.Sprintf("source Secret %s not found: create it (kubectl regcred create -n %s %s ...); existing copies are left as they are", ref, ref.Namespace, ref.Name)
	case errors.Is(src.Err, pullsecret.ErrSourceWrongType):
		degraded.Reason, degraded.Message = v1alpha1.ReasonSourceWrongType, src.Err.Error()+"; existing copies are left as they are"
	case src.Err != nil:
		degraded.Reason, degraded.Message = v1alpha1.ReasonSourceMalformed, src.Err.Error()+"; existing copies are left as they are"
	case c.Failed > 0:
		degraded.Reason, degraded.Message = v1alpha1.ReasonFailures, fmt.Sprintf("%d of %d namespaces failed; status.notSynced says why; they are retried", c.Failed, c.Targeted)
	case c.Conflict > 0:
		degraded.Reason, degraded.Message = v1alpha1.ReasonConflicts, fmt.Sprintf("%d of %d namespaces hold a Secret named %s that regcred did not create; regcred leaves them alone", c.Conflict, c.Targeted, cps.TargetSecretName())
	case cps.Spec.Source.CredentialProvider != nil:
		degraded.Status, degraded.Reason, degraded.Message = metav1.ConditionFalse, v1alpha1.ReasonSourceHealthy, credentialHealthy(cps)
	default:
		degraded.Status, degraded.Reason, degraded.Message = metav1.ConditionFalse, v1alpha1.ReasonSourceHealthy, fmt.Sprintf("source %s is a usable pull Secret", ref)
	}
	switch {
	case degraded.Status == metav1.ConditionTrue && degraded.Reason != v1alpha1.ReasonFailures && degraded.Reason != v1alpha1.ReasonConflicts && degraded.Reason != v1alpha1.ReasonCredentialRefreshFailed:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, degraded.Reason, degraded.Message
	case c.Synced == c.Targeted:
		ready.Status, ready.Reason = metav1.ConditionTrue, v1alpha1.ReasonSynced
		ready.Message = fmt.Sprintf("%d of %d namespaces synced", c.Synced, c.Targeted)
	case pending > 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, v1alpha1.ReasonProgressing
		ready.Message = fmt.Sprintf("%d of %d namespaces synced, %d pending", c.Synced, c.Targeted, pending)
	default:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, degraded.Reason, fmt.Sprintf("%d of %d namespaces synced", c.Synced, c.Targeted)
	}
	return ready, degraded
}

// tell sends one Event on the ClusterPullSecret when what its conditions say
// changes: never one per namespace.
func (r *cpsReconciler) tell(cps *v1alpha1.ClusterPullSecret, degraded, ready metav1.Condition, conflicts []v1alpha1.NamespaceStatus, c v1alpha1.NamespaceCounts) {
	var names []string
	for _, s := range conflicts {
		names = append(names, s.Namespace)
	}
	summary := degraded.Reason + "|" + string(ready.Status) + "|" + strings.Join(names, ",")
	r.mu.Lock()
	if r.told == nil {
		r.told = map[string]string{}
	}
	same := r.told[cps.Name] == summary
	r.told[cps.Name] = summary
	r.mu.Unlock()
	if same || r.recorder == nil {
		return
	}
	switch {
	case degraded.Reason == v1alpha1.ReasonConflicts:
		shown := names
		more := ""
		if len(shown) > 10 {
			shown, more = shown[:10], fmt.Sprintf(" and %d more", c.Conflict-10)
		}
		r.recorder.Eventf(cps, nil, corev1.EventTypeWarning, v1alpha1.ReasonConflicts, "Sync",
			"Secret %s exists but regcred did not create it, in %d namespaces: %s%s; left alone", cps.TargetSecretName(), c.Conflict, strings.Join(shown, ", "), more)
	case degraded.Status == metav1.ConditionTrue:
		r.recorder.Eventf(cps, nil, corev1.EventTypeWarning, degraded.Reason, "Sync", "%s", degraded.Message)
	case ready.Status == metav1.ConditionTrue:
		r.recorder.Eventf(cps, nil, corev1.EventTypeNormal, v1alpha1.ReasonSynced, "Sync", "%s", ready.Message)
	}
}
