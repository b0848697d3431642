// Package v1alpha1 holds the regcred.dev/v1alpha1 API: ClusterPullSecret, a
// cluster-scoped object that keeps one pull Secret copied into every namespace it
// targets and referenced from the ServiceAccounts it serves.
//
// +kubebuilder:object:generate=true
// +groupName=regcred.dev
package v1alpha1
