package controller

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// admission keeps, per ClusterPullSecret, the MutatingAdmissionPolicy and binding
// that add its copy to new pods (pullsecret.AdmissionPolicy). It writes only when
// what is there differs from what is wanted.
type admission struct {
	cached    client.Client
	live      client.Reader // reads from the API server, only after a refused create
	available bool          // the API server serves admissionregistration.k8s.io/v1 MutatingAdmissionPolicy
	metrics   *Metrics
}

// PolicyServed asks the API server whether it serves MutatingAdmissionPolicy in
// admissionregistration.k8s.io/v1 (Kubernetes 1.36 and later).
func PolicyServed(cfg *rest.Config) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, fmt.Errorf("make discovery client: %w", err)
	}
	list, err := dc.ServerResourcesForGroupVersion(admissionv1.SchemeGroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find out whether the API server serves MutatingAdmissionPolicy: %w", err)
	}
	var policy, binding bool
	for _, r := range list.APIResources {
		policy = policy || r.Kind == "MutatingAdmissionPolicy"
		binding = binding || r.Kind == "MutatingAdmissionPolicyBinding"
	}
	return policy && binding, nil
}

// ensure makes the policy and binding what the ClusterPullSecret wants, or removes
// them when it wants none, and returns the AdmissionInjection condition. skip are
// the namespaces where the copy's name is taken by a Secret that is not regcred's;
// complete says every targeted namespace has reported, so that skip is whole. Until
// it is (after a restart, for a new ClusterPullSecret) nothing is written: a policy
// without a namespace in conflict would point new pods there at someone else's
// Secret.
func (a *admission) ensure(ctx context.Context, cps *v1alpha1.ClusterPullSecret, skip []string, complete bool) (metav1.Condition, error) {
	cond := metav1.Condition{Type: v1alpha1.ConditionInjection, ObservedGeneration: cps.Generation, Status: metav1.ConditionFalse}
	switch {
	case !cps.Injects():
		cond.Reason, cond.Message = v1alpha1.ReasonInjectionDisabled, "spec.injectAtAdmission is false: pods get the copy only through their ServiceAccount"
		return cond, a.remove(ctx, cps.Name)
	case !a.available:
		cond.Reason = v1alpha1.ReasonPolicyUnavailable
		cond.Message = "the API server does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 or later): a pod created before its namespace had the copy keeps failing until it is recreated"
		return cond, nil
	}
	policy, binding := pullsecret.AdmissionPolicy(cps, skip)
	if !complete {
		cond.Reason = v1alpha1.ReasonPolicyWaiting
		cond.Message = "the admission policy is written once every targeted namespace has been looked at, so that it leaves out those in conflict"
		return cond, nil
	}
	for _, o := range []client.Object{policy, binding} {
		err := a.apply(ctx, o)
		var taken *takenError
		switch {
		case errors.As(err, &taken):
			// Someone else's object of that name: left alone, and injection is off.
			cond.Reason, cond.Message = v1alpha1.ReasonPolicyConflict, err.Error()
			return cond, nil
		case err != nil:
			cond.Reason, cond.Message = v1alpha1.ReasonPolicyFailed, err.Error()
			return cond, err
		}
	}
	cond.Status, cond.Reason = metav1.ConditionTrue, v1alpha1.ReasonPolicyReady
	cond.Message = fmt.Sprintf("MutatingAdmissionPolicy %s adds %s to new pods of the served ServiceAccounts", policy.Name, cps.TargetSecretName())
	if len(skip) > 0 {
		cond.Message += fmt.Sprintf(", except in the %d namespaces in conflict", len(skip))
	}
	return cond, nil
}

// apply creates the object, or updates it when its labels, owner references or spec
// differ from want.
func (a *admission) apply(ctx context.Context, want client.Object) error {
	kind := kindOf(want)
	cur := want.DeepCopyObject().(client.Object)
	err := a.cached.Get(ctx, types.NamespacedName{Name: want.GetName()}, cur)
	switch {
	case apierrors.IsNotFound(err):
		// The cache holds only regcred's objects: one of that name without regcred's
		// label makes the create fail.
		err := a.cached.Create(ctx, want)
		switch {
		case apierrors.IsAlreadyExists(err):
			// Ours, and the cache has not seen our create yet; or someone else's.
			got := want.DeepCopyObject().(client.Object)
			if a.live != nil && a.live.Get(ctx, types.NamespacedName{Name: want.GetName()}, got) == nil &&
				got.GetLabels()[v1alpha1.LabelClusterPullSecret] == want.GetLabels()[v1alpha1.LabelClusterPullSecret] {
				return nil
			}
			return &takenError{kind: kind, name: want.GetName()}
		case err != nil:
			return fmt.Errorf("create %s %s: %w", kind, want.GetName(), err)
		}
		a.metrics.writes.WithLabelValues(kind, "create").Inc()
		return nil
	case err != nil:
		return fmt.Errorf("read %s %s: %w", kind, want.GetName(), err)
	}
	if equality.Semantic.DeepEqual(cur.GetLabels(), want.GetLabels()) &&
		equality.Semantic.DeepEqual(cur.GetOwnerReferences(), want.GetOwnerReferences()) &&
		equality.Semantic.DeepEqual(specOf(cur), specOf(want)) {
		return nil
	}
	want.SetResourceVersion(cur.GetResourceVersion())
	if err := a.cached.Update(ctx, want); err != nil {
		return fmt.Errorf("update %s %s: %w", kind, want.GetName(), err)
	}
	a.metrics.writes.WithLabelValues(kind, "update").Inc()
	return nil
}

// remove deletes the ClusterPullSecret's policy and binding, if there are any.
func (a *admission) remove(ctx context.Context, cps string) error {
	if !a.available {
		return nil
	}
	name := pullsecret.PolicyName(cps)
	for _, o := range []client.Object{&admissionv1.MutatingAdmissionPolicyBinding{}, &admissionv1.MutatingAdmissionPolicy{}} {
		if err := a.cached.Get(ctx, types.NamespacedName{Name: name}, o); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("read %s %s: %w", kindOf(o), name, err)
		}
		if o.GetLabels()[v1alpha1.LabelClusterPullSecret] != cps {
			continue // not regcred's
		}
		uid := o.GetUID()
		if err := a.cached.Delete(ctx, o, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete %s %s: %w", kindOf(o), name, err)
		}
		a.metrics.writes.WithLabelValues(kindOf(o), "delete").Inc()
	}
	return nil
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *admissionv1.MutatingAdmissionPolicy:
		return "MutatingAdmissionPolicy"
	case *admissionv1.MutatingAdmissionPolicyBinding:
		return "MutatingAdmissionPolicyBinding"
	}
	return fmt.Sprintf("%T", o)
}

func specOf(o client.Object) any {
	switch o := o.(type) {
	case *admissionv1.MutatingAdmissionPolicy:
		return o.Spec
	case *admissionv1.MutatingAdmissionPolicyBinding:
		return o.Spec
	}
	return nil
}

// takenError is a policy or binding of regcred's name that regcred did not make.
type takenError struct{ kind, name string }

func (e *takenError) Error() string {
	return fmt.Sprintf("%s %s exists and regcred did not make it: regcred leaves it alone and injects nothing; delete or rename it", e.kind, e.name)
}
