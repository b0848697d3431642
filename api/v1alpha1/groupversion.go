package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of ClusterPullSecret.
var GroupVersion = schema.GroupVersion{Group: "regcred.dev", Version: "v1alpha1"}

// AddToScheme adds the types of this group and version to a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ClusterPullSecret{}, &ClusterPullSecretList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
