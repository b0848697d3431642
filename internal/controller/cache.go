package controller

import (
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
)

// CacheOptions are the manager's cache options: Secrets only when they carry
// regcred's label, ServiceAccounts trimmed to what the pair controller reads, pods
// only while Pending (a server-side field selector) and trimmed to what the healer
// reads, and no managed fields anywhere. Memory then grows with what regcred
// manages and the pods waiting to start, not with the cluster's Secrets and pods.
//
// With admissionPolicies (PolicyServed), regcred's MutatingAdmissionPolicies and
// their bindings are cached too, by label.
func CacheOptions(admissionPolicies bool) cache.Options {
	req, err := labels.NewRequirement(v1alpha1.LabelClusterPullSecret, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant label key: cannot fail
	}
	ours := labels.NewSelector().Add(*req)
	o := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:         {Label: ours},
			&corev1.ServiceAccount{}: {Transform: trimServiceAccount},
			&corev1.Pod{}:            {Field: fields.OneTermEqualSelector("status.phase", string(corev1.PodPending)), Transform: trimPod},
		},
	}
	if admissionPolicies {
		o.ByObject[&admissionv1.MutatingAdmissionPolicy{}] = cache.ByObject{Label: ours}
		o.ByObject[&admissionv1.MutatingAdmissionPolicyBinding{}] = cache.ByObject{Label: ours}
	}
	return o
}

// trimServiceAccount keeps name, namespace, UID, resourceVersion, regcred's
// annotation and imagePullSecrets. Writes go as patches with the resourceVersion
// read, so nothing trimmed here is ever written back.
func trimServiceAccount(obj any) (any, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return obj, nil
	}
	t := &corev1.ServiceAccount{
		TypeMeta: sa.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: sa.Name, Namespace: sa.Namespace, UID: sa.UID, ResourceVersion: sa.ResourceVersion,
		},
		ImagePullSecrets: sa.ImagePullSecrets,
	}
	if v, ok := sa.Annotations[v1alpha1.AnnotationAddedPullSecrets]; ok {
		t.Annotations = map[string]string{v1alpha1.AnnotationAddedPullSecrets: v}
	}
	return t, nil
}

// trimPod keeps what the healer and the doctor's classification read: identity,
// creation time, controller owner, the pod-template-hash label, the ServiceAccount,
// node and imagePullSecrets, each container's name and image, and each container
// status's name, image, waiting reason and message, and whether it runs. The
// healer never writes a pod, so nothing trimmed here is written back.
func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	t := &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp, DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: p.Spec.ServiceAccountName, NodeName: p.Spec.NodeName, ImagePullSecrets: p.Spec.ImagePullSecrets,
			InitContainers: trimContainers(p.Spec.InitContainers), Containers: trimContainers(p.Spec.Containers),
		},
		Status: corev1.PodStatus{
			Phase:                 p.Status.Phase,
			InitContainerStatuses: trimStatuses(p.Status.InitContainerStatuses),
			ContainerStatuses:     trimStatuses(p.Status.ContainerStatuses),
		},
	}
	if ref := metav1.GetControllerOf(p); ref != nil {
		t.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	if v, ok := p.Labels["pod-template-hash"]; ok {
		t.Labels = map[string]string{"pod-template-hash": v}
	}
	return t, nil
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Name: c.Name, Image: c.Image}
	}
	return out
}

func trimStatuses(ss []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(ss) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(ss))
	for i, s := range ss {
		out[i] = corev1.ContainerStatus{Name: s.Name, Image: s.Image}
		switch {
		case s.State.Waiting != nil:
			out[i].State.Waiting = &corev1.ContainerStateWaiting{Reason: s.State.Waiting.Reason, Message: s.State.Waiting.Message}
		case s.State.Running != nil:
			out[i].State.Running = &corev1.ContainerStateRunning{}
		}
	}
	return out
}

// NewScheme holds only the kinds the controllers read and write: a scheme of every
// built-in group would cost memory for nothing.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := admissionv1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}
