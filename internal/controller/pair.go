package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// Pair is the unit of work: one ClusterPullSecret in one namespace.
type Pair struct {
	ClusterPullSecret string
	Namespace         string
}

func (p Pair) String() string { return p.ClusterPullSecret + "@" + p.Namespace }

// conflictRetry is how often a namespace in conflict is looked at again: the
// Secret in the way is not regcred's, so no watch of regcred's sees it go.
const conflictRetry = 5 * time.Minute

// pairReconciler makes one namespace what one ClusterPullSecret wants.
type pairReconciler struct {
	cached  client.Client // reads from the caches, writes to the API server
	live    client.Reader // reads from the API server, only after a refused write
	sources *sources
	results *results
	expect  *expectations
	metrics *Metrics
	// changed tells the ClusterPullSecret controller that a pair's result changed.
	changed func(cps string)
}

func (r *pairReconciler) Reconcile(ctx context.Context, p Pair) (reconcile.Result, error) {
	res, wrote, err := r.reconcile(ctx, p)
	if res == nil {
		if r.results.Forget(p) {
			r.changed(p.ClusterPullSecret)
		}
	} else if r.results.Set(p, *res, wrote) {
		r.changed(p.ClusterPullSecret)
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if res != nil && res.State == v1alpha1.NamespaceConflict {
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	return reconcile.Result{}, nil
}

// reconcile returns the pair's result (nil when the namespace is not targeted),
// whether it wrote anything, and an error to retry with back-off.
func (r *pairReconciler) reconcile(ctx context.Context, p Pair) (*result, bool, error) {
	var cps v1alpha1.ClusterPullSecret
	if err := r.cached.Get(ctx, types.NamespacedName{Name: p.ClusterPullSecret}, &cps); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, false, err
		}
		// Gone without its finalizer: take back what is still recorded under its name.
		cps = v1alpha1.ClusterPullSecret{ObjectMeta: metav1.ObjectMeta{Name: p.ClusterPullSecret}}
		wrote, err := r.remove(ctx, &cps, p.Namespace, "")
		return nil, wrote, err
	}
	ns := metaOf("Namespace")
	if err := r.cached.Get(ctx, types.NamespacedName{Name: p.Namespace}, ns); err != nil {
		// A namespace that is gone took its copies and ServiceAccounts with it.
		return nil, false, client.IgnoreNotFound(err)
	}
	if cps.DeletionTimestamp != nil {
		if cps.Spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan {
			wrote, err := r.release(ctx, &cps, p.Namespace)
			return nil, wrote, err
		}
		wrote, err := r.remove(ctx, &cps, p.Namespace, "")
		return nil, wrote, err
	}
	sel, err := pullsecret.NewSelector(&cps)
	if err != nil || !sel.Targets(ns) {
		wrote, err := r.remove(ctx, &cps, p.Namespace, "")
		return nil, wrote, err
	}
	src := r.sources.Of(ctx, &cps)
	if !src.Synced || !src.Found || src.Err != nil {
		// The ClusterPullSecret's status says why; copies stay as they are.
		return &result{State: v1alpha1.NamespacePending, Message: "waiting for a usable source Secret"}, false, nil
	}
	name := cps.TargetSecretName()
	// Copies under an earlier secretName go, with their references.
	wroteOld, err := r.remove(ctx, &cps, p.Namespace, name)
	if err != nil {
		return failed("remove a copy under an earlier name", err), wroteOld, err
	}
	res, wrote, err := r.ensureCopy(ctx, &cps, p.Namespace, src.Content)
	if err != nil || res != nil {
		return res, wrote || wroteOld, err
	}
	wroteSA, err := r.ensureReferences(ctx, &cps, p.Namespace, name)
	if err != nil {
		return failed("update ServiceAccounts", err), true, err
	}
	return &result{State: v1alpha1.NamespaceSynced}, wrote || wroteOld || wroteSA, nil
}

func failed(doing string, err error) *result {
	return &result{State: v1alpha1.NamespaceFailed, Message: doing + ": " + err.Error()}
}

// ensureCopy creates or updates the copy. It returns a non-nil result when the pair
// cannot go on to the ServiceAccounts: a conflict, a failure, or a create the cache
// has not seen yet.
func (r *pairReconciler) ensureCopy(ctx context.Context, cps *v1alpha1.ClusterPullSecret, ns string, c *pullsecret.Content) (*result, bool, error) {
	key := types.NamespacedName{Namespace: ns, Name: cps.TargetSecretName()}
	ekey := "secret/" + key.String()
	var cur corev1.Secret
	err := r.cached.Get(ctx, key, &cur)
	present := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return failed("read the copy", err), false, err
	}
	if r.expect.Pending(ekey, cur.ResourceVersion, present) {
		return nil, false, nil // our own write is on its way to the cache
	}
	if !present {
		want := pullsecret.Copy(cps, ns, c)
		err := r.cached.Create(ctx, want)
		switch {
		case err == nil:
			r.expect.Expect(ekey, "")
			r.metrics.writes.WithLabelValues("Secret", "create").Inc()
			return nil, true, nil
		case !apierrors.IsAlreadyExists(err):
			return failed("create the copy", err), false, err
		}
		// The cache does not hold it, so it is not labelled as regcred's, or the cache
		// lags. Only the API server can tell.
		if err := r.live.Get(ctx, key, &cur); err != nil {
			return failed("read the Secret in the way", err), false, err
		}
		if pullsecret.Owner(&cur) != cps.Name {
			return conflict(&cur), false, nil
		}
	}
	// A copy is regcred's only with its label and an owner reference to this
	// ClusterPullSecret; anything else of that name is someone else's.
	if pullsecret.Owner(&cur) != cps.Name {
		return conflict(&cur), false, nil
	}
	if pullsecret.UpToDate(&cur, cps, c) {
		return nil, false, nil
	}
	upd := cur.DeepCopy()
	pullsecret.SetCopy(upd, cps, c)
	if err := r.cached.Update(ctx, upd); err != nil {
		return failed("update the copy", err), false, err
	}
	r.expect.Expect(ekey, cur.ResourceVersion)
	r.metrics.writes.WithLabelValues("Secret", "update").Inc()
	return nil, true, nil
}

func conflict(s *corev1.Secret) *result {
	typ := s.Type
	if typ == "" {
		typ = corev1.SecretTypeOpaque
	}
	return &result{State: v1alpha1.NamespaceConflict, Message: fmt.Sprintf(
		"Secret %s (type %s) exists and regcred did not create it: regcred leaves it and its ServiceAccount references alone; delete or rename it to let regcred manage the copy, or set spec.secretName", s.Name, typ)}
}

// ensureReferences adds the copy to every served ServiceAccount and takes back what
// regcred added to the others.
func (r *pairReconciler) ensureReferences(ctx context.Context, cps *v1alpha1.ClusterPullSecret, ns, name string) (bool, error) {
	var sas corev1.ServiceAccountList
	if err := r.cached.List(ctx, &sas, client.InNamespace(ns)); err != nil {
		return false, err
	}
	wrote := false
	var errs []error
	for i := range sas.Items {
		sa := &sas.Items[i]
		w, err := r.reference(ctx, sa, cps.Name, name, cps.Patches(sa.Name))
		wrote = wrote || w
		if err != nil {
			errs = append(errs, err)
		}
	}
	return wrote, errors.Join(errs...)
}

// remove deletes this ClusterPullSecret's copies in the namespace, but the one named
// keep, and takes back the references regcred added to them.
func (r *pairReconciler) remove(ctx context.Context, cps *v1alpha1.ClusterPullSecret, ns, keep string) (bool, error) {
	var copies corev1.SecretList
	if err := r.cached.List(ctx, &copies, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelClusterPullSecret: cps.Name}); err != nil {
		return false, err
	}
	wrote := false
	var errs []error
	if keep == "" {
		// References first, so no ServiceAccount names a Secret that is gone.
		var sas corev1.ServiceAccountList
		if err := r.cached.List(ctx, &sas, client.InNamespace(ns), client.MatchingFields{indexRecorded: cps.Name}); err != nil {
			return false, err
		}
		for i := range sas.Items {
			w, err := r.reference(ctx, &sas.Items[i], cps.Name, "", false)
			wrote = wrote || w
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := range copies.Items {
		s := &copies.Items[i]
		if s.Name == keep || pullsecret.Owner(s) != cps.Name {
			continue
		}
		uid := s.UID
		err := r.cached.Delete(ctx, s, client.Preconditions{UID: &uid})
		if err == nil {
			wrote = true
			r.metrics.writes.WithLabelValues("Secret", "delete").Inc()
		} else if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete copy %s/%s: %w", ns, s.Name, err))
		}
	}
	return wrote, errors.Join(errs...)
}

// release leaves this ClusterPullSecret's copies and references to the namespace:
// the copies lose regcred's label, annotations and owner reference (so garbage
// collection keeps them), the ServiceAccounts keep their entries and lose the record.
func (r *pairReconciler) release(ctx context.Context, cps *v1alpha1.ClusterPullSecret, ns string) (bool, error) {
	var copies corev1.SecretList
	if err := r.cached.List(ctx, &copies, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelClusterPullSecret: cps.Name}); err != nil {
		return false, err
	}
	var sas corev1.ServiceAccountList
	if err := r.cached.List(ctx, &sas, client.InNamespace(ns), client.MatchingFields{indexRecorded: cps.Name}); err != nil {
		return false, err
	}
	wrote := false
	var errs []error
	for i := range sas.Items {
		w, err := r.forgetRecord(ctx, &sas.Items[i], cps.Name)
		wrote = wrote || w
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i := range copies.Items {
		s := &copies.Items[i]
		if pullsecret.Owner(s) != cps.Name {
			continue
		}
		upd := s.DeepCopy()
		delete(upd.Labels, v1alpha1.LabelClusterPullSecret)
		delete(upd.Labels, v1alpha1.LabelManagedBy)
		delete(upd.Annotations, v1alpha1.AnnotationContentHash)
		delete(upd.Annotations, v1alpha1.AnnotationSource)
		var refs []metav1.OwnerReference
		for _, o := range upd.OwnerReferences {
			if o.Kind != "ClusterPullSecret" || o.Name != cps.Name {
				refs = append(refs, o)
			}
		}
		upd.OwnerReferences = refs
		if err := r.cached.Update(ctx, upd); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release copy %s/%s: %w", ns, s.Name, err))
			continue
		}
		wrote = true
		r.metrics.writes.WithLabelValues("Secret", "update").Inc()
	}
	return wrote, errors.Join(errs...)
}

func sourceKey(cps *v1alpha1.ClusterPullSecret) types.NamespacedName {
	if ref := cps.Spec.Source.SecretRef; ref != nil {
		return types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	}
	return types.NamespacedName{}
}

// metaOf is an empty metadata-only object of a core kind, read from the metadata cache.
func metaOf(kind string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return m
}
