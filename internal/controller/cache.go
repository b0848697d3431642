package controller

import (
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
)

// CacheOptions are the manager's cache options: Secrets only when they carry
// regcred's label, ServiceAccounts trimmed to what the pair controller reads, and no
// managed fields anywhere. Memory then grows with what regcred manages, not with the
// cluster's Secrets.
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
