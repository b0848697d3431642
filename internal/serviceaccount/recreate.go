package serviceaccount

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Recreator is what makes a pod again once it is deleted, and the template it makes it
// from: where a pod's imagePullSecrets come from is decided there, not in the pod. A
// pod whose list admission copied from its ServiceAccount looks the same as one whose
// template sets that list; only the template tells them apart.
type Recreator struct {
	Owner Workload
	// Template is the owner's pod template; nil for a bare pod or a controller of a
	// kind not read here (its list's origin is unknown).
	Template *corev1.PodTemplateSpec
	// Rolls reports whether a change of the template (a rollout restart, an edit)
	// replaces a pod that never started: so for Deployments, for DaemonSets and
	// StatefulSets with the RollingUpdate strategy, except StatefulSets with ordered
	// pod management, whose rollout waits for that pod to become ready. Otherwise
	// (OnDelete, ReplicaSets, Jobs, bare pods) the pod must be deleted for its
	// controller to make it again.
	Rolls bool
}

// Origin says where the pods of a Recreator get their imagePullSecrets.
type Origin int

const (
	// OriginUnknown: no template was read (a bare pod, or an unknown controller).
	OriginUnknown Origin = iota
	// OriginServiceAccount: the template sets no list, so admission copies the
	// ServiceAccount's at each pod's creation; recreating the pod is the fix.
	OriginServiceAccount
	// OriginTemplate: the template sets its own list and admission copies nothing;
	// the Secret belongs in the template, next to the entries already there.
	OriginTemplate
)

// Origin returns where the template's pods get their imagePullSecrets.
func (r Recreator) Origin() Origin {
	switch {
	case r.Template == nil:
		return OriginUnknown
	case len(r.Template.Spec.ImagePullSecrets) > 0:
		return OriginTemplate
	default:
		return OriginServiceAccount
	}
}

// Recreators finds what recreates pods, reading each owner once. It is safe for
// concurrent use.
type Recreators struct {
	cs      kubernetes.Interface
	mu      sync.Mutex // guards the maps, never held across a read of the API
	rsOwner map[types.UID]Workload
	byOwner map[string]Recreator // by namespace/kind/name
}

// NewRecreators reads owners through cs.
func NewRecreators(cs kubernetes.Interface) *Recreators {
	return &Recreators{cs: cs, rsOwner: map[types.UID]Workload{}, byOwner: map[string]Recreator{}}
}

// For returns what recreates the pod: its Deployment (through its ReplicaSet),
// StatefulSet, DaemonSet, ReplicaSet or Job with that object's pod template, or the
// pod itself (no template) when nothing controls it.
func (r *Recreators) For(ctx context.Context, p *corev1.Pod) (Recreator, error) {
	owner, err := r.ownerOf(ctx, p)
	if err != nil {
		return Recreator{}, err
	}
	k := p.Namespace + "/" + owner.String()
	r.mu.Lock()
	rec, ok := r.byOwner[k]
	r.mu.Unlock()
	if ok {
		return rec, nil
	}
	rec = Recreator{Owner: owner}
	apps := r.cs.AppsV1()
	get := metav1.GetOptions{}
	switch owner.Kind {
	case "Deployment":
		d, err := apps.Deployments(p.Namespace).Get(ctx, owner.Name, get)
		if err != nil {
			return Recreator{}, fmt.Errorf("get %s in %s: %w", owner, p.Namespace, err)
		}
		rec.Template, rec.Rolls = &d.Spec.Template, true
	case "StatefulSet":
		s, err := apps.StatefulSets(p.Namespace).Get(ctx, owner.Name, get)
		if err != nil {
			return Recreator{}, fmt.Errorf("get %s in %s: %w", owner, p.Namespace, err)
		}
		rec.Template = &s.Spec.Template
		rec.Rolls = s.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && s.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
	case "DaemonSet":
		d, err := apps.DaemonSets(p.Namespace).Get(ctx, owner.Name, get)
		if err != nil {
			return Recreator{}, fmt.Errorf("get %s in %s: %w", owner, p.Namespace, err)
		}
		rec.Template, rec.Rolls = &d.Spec.Template, d.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType
	case "ReplicaSet":
		s, err := apps.ReplicaSets(p.Namespace).Get(ctx, owner.Name, get)
		if err != nil {
			return Recreator{}, fmt.Errorf("get %s in %s: %w", owner, p.Namespace, err)
		}
		rec.Template = &s.Spec.Template
	case "Job":
		j, err := r.cs.BatchV1().Jobs(p.Namespace).Get(ctx, owner.Name, get)
		if err != nil {
			return Recreator{}, fmt.Errorf("get %s in %s: %w", owner, p.Namespace, err)
		}
		rec.Template = &j.Spec.Template
	}
	r.mu.Lock()
	r.byOwner[k] = rec
	r.mu.Unlock()
	return rec, nil
}

// ownerOf names the workload that owns the pod: a ReplicaSet's Deployment when it has
// one, or "Pod" for a bare pod.
func (r *Recreators) ownerOf(ctx context.Context, p *corev1.Pod) (Workload, error) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return Workload{Kind: "Pod", Name: p.Name}, nil
	}
	if ref.Kind != "ReplicaSet" {
		return Workload{Kind: ref.Kind, Name: ref.Name}, nil
	}
	r.mu.Lock()
	w, ok := r.rsOwner[ref.UID]
	r.mu.Unlock()
	if ok {
		return w, nil
	}
	rs, err := r.cs.AppsV1().ReplicaSets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return Workload{}, fmt.Errorf("get replicaset %s/%s: %w", p.Namespace, ref.Name, err)
	}
	w = Workload{Kind: "ReplicaSet", Name: rs.Name}
	if d := metav1.GetControllerOf(rs); d != nil {
		w = Workload{Kind: d.Kind, Name: d.Name}
	}
	r.mu.Lock()
	r.rsOwner[ref.UID] = w
	r.mu.Unlock()
	return w, nil
}
