package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterPullSecret keeps a copy of one pull Secret in every namespace it targets,
// and a reference to it in the imagePullSecrets of the ServiceAccounts it serves.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cps,categories=regcred
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Targeted",type=integer,JSONPath=`.status.namespaces.targeted`
// +kubebuilder:printcolumn:name="Synced",type=integer,JSONPath=`.status.namespaces.synced`
// +kubebuilder:printcolumn:name="Conflicts",type=integer,JSONPath=`.status.namespaces.conflict`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterPullSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterPullSecretSpec   `json:"spec"`
	Status ClusterPullSecretStatus `json:"status,omitempty"`
}

// ClusterPullSecretSpec says what to copy, where, and to which ServiceAccounts.
type ClusterPullSecretSpec struct {
	// Source is where the credentials come from.
	Source Source `json:"source"`

	// SecretName is the name of the copies; the ClusterPullSecret's name when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// NamespaceSelector picks the namespaces by label; empty or absent means all.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// ExcludeNamespaces are namespace names, or patterns where * stands for any run
	// of characters, that never get a copy. The source's own namespace and
	// terminating namespaces never do either.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$`
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`

	// ServiceAccounts are the names of the ServiceAccounts, in every targeted
	// namespace, whose imagePullSecrets get the copy; ["*"] means all of them.
	// +optional
	// +listType=set
	// +kubebuilder:default={"default"}
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$`
	// +kubebuilder:validation:XValidation:rule="!self.exists(n, n == '*') || size(self) == 1",message="\"*\" stands alone: it already means every ServiceAccount"
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`

	// InjectAtAdmission keeps a MutatingAdmissionPolicy that adds the copy to the
	// imagePullSecrets of every new pod of a served ServiceAccount in the targeted
	// namespaces, so that a pod created before its namespace had the copy pulls at
	// its next retry. Its failures are ignored: it never stops a pod from being
	// created. Default true.
	// +optional
	// +kubebuilder:default=true
	InjectAtAdmission *bool `json:"injectAtAdmission,omitempty"`

	// PatchServiceAccounts adds the copy to the imagePullSecrets of the served
	// ServiceAccounts. Set it to false where ServiceAccounts are kept in Git (Argo CD,
	// Flux) and rely on injection at admission alone; regcred then takes back the
	// references it added before. Default true.
	// +optional
	// +kubebuilder:default=true
	PatchServiceAccounts *bool `json:"patchServiceAccounts,omitempty"`

	// HealStuckPods has regcred act on pods in the targeted namespaces that wait in
	// ErrImagePull or ImagePullBackOff for want of credentials and would pull with
	// the copy but do not reference it: a pod with a ReplicaSet, StatefulSet,
	// DaemonSet or Job for controller is evicted (Eviction API), at most once per
	// owner per 10 minutes, so that its replacement gets the copy; any other pod is
	// only reported (an Event, and status.stuckPods). Pods failing for other
	// reasons, and pods that already reference the copy, are left alone. Default
	// true.
	// +optional
	// +kubebuilder:default=true
	HealStuckPods *bool `json:"healStuckPods,omitempty"`

	// DeletionPolicy says what happens to the copies and references when the
	// ClusterPullSecret is deleted: Delete removes exactly what regcred added,
	// Orphan leaves them to the namespaces' owners.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// Source is where a ClusterPullSecret's credentials come from. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.credentialProvider)",message="set exactly one of source.secretRef and source.credentialProvider"
type Source struct {
	// SecretRef names a Secret of type kubernetes.io/dockerconfigjson or
	// kubernetes.io/dockercfg, the single source of truth for the copies. Copies are
	// always of type kubernetes.io/dockerconfigjson.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`

	// CredentialProvider mints short-lived credentials with a kubelet credential
	// provider plugin; see CredentialProviderSource.
	// +optional
	CredentialProvider *CredentialProviderSource `json:"credentialProvider,omitempty"`
}

// SecretReference names a Secret in a namespace.
type SecretReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// DeletionPolicy is Delete or Orphan.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

// Deletion policies.
const (
	DeletionPolicyDelete DeletionPolicy = "Delete"
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// ClusterPullSecretStatus is what the controller last saw and did.
type ClusterPullSecretStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready (every targeted namespace has an up-to-date copy and
	// references) and Degraded (the source is unusable, or some namespaces failed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Namespaces counts the targeted namespaces by state.
	// +optional
	Namespaces NamespaceCounts `json:"namespaces,omitempty"`

	// NotSynced lists up to 20 namespaces that are not synced, with the reason for
	// each; Namespaces has the full counts.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=map
	// +listMapKey=namespace
	NotSynced []NamespaceStatus `json:"notSynced,omitempty"`

	// SourceHash is the hash of the content copied, as in each copy's
	// regcred.dev/content-hash annotation.
	// +optional
	SourceHash string `json:"sourceHash,omitempty"`

	// LastSyncTime is when a copy or reference was last written.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// Credential is the minted credential's lifetime (credentialProvider sources).
	// +optional
	Credential *CredentialStatus `json:"credential,omitempty"`

	// StuckPods are the pods that fail to pull for want of the copy, would pull
	// with it, and that regcred does not evict: pods with no controller that
	// recreates them, and pods whose replacement did not get the copy either.
	// +optional
	StuckPods *StuckPods `json:"stuckPods,omitempty"`
}

// StuckPods counts the pods regcred reports and does not heal, and names some.
type StuckPods struct {
	// Count is how many there are.
	Count int32 `json:"count"`
	// Pods names up to 20 of them, as namespace/name, in order.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	Pods []string `json:"pods,omitempty"`
}

// NamespaceCounts counts targeted namespaces by state.
type NamespaceCounts struct {
	// Targeted namespaces: matched by the selector, not excluded, not the source's,
	// not terminating.
	Targeted int32 `json:"targeted"`
	// Synced namespaces have an up-to-date copy and every served ServiceAccount
	// references it.
	Synced int32 `json:"synced"`
	// Conflict namespaces hold a Secret of that name that regcred did not create.
	Conflict int32 `json:"conflict"`
	// Failed namespaces had an error on the last attempt; it is retried.
	Failed int32 `json:"failed"`
}

// NamespaceState is the state of one targeted namespace.
// +kubebuilder:validation:Enum=Synced;Pending;Conflict;Failed
type NamespaceState string

// Namespace states.
const (
	NamespaceSynced   NamespaceState = "Synced"
	NamespacePending  NamespaceState = "Pending"
	NamespaceConflict NamespaceState = "Conflict"
	NamespaceFailed   NamespaceState = "Failed"
)

// NamespaceStatus says why one namespace is not synced.
type NamespaceStatus struct {
	Namespace string         `json:"namespace"`
	State     NamespaceState `json:"state"`
	// Message says what was found or what failed, and what to do.
	// +optional
	Message string `json:"message,omitempty"`
}

// Condition types and reasons.
const (
	ConditionReady    = "Ready"
	ConditionDegraded = "Degraded"

	ReasonSynced          = "Synced"
	ReasonProgressing     = "Progressing"
	ReasonConflicts       = "Conflicts"
	ReasonFailures        = "Failures"
	ReasonSourceNotFound  = "SourceNotFound"
	ReasonSourceWrongType = "SourceWrongType"
	ReasonSourceMalformed = "SourceMalformed"
	ReasonSourceHealthy   = "SourceHealthy"
	ReasonDeleting        = "Deleting"

	// ConditionInjection says whether new pods get the copy at admission.
	ConditionInjection = "AdmissionInjection"

	ReasonPolicyReady       = "PolicyReady"
	ReasonInjectionDisabled = "Disabled"
	ReasonPolicyUnavailable = "APIUnavailable"
	ReasonPolicyFailed      = "PolicyFailed"
	ReasonPolicyConflict    = "PolicyConflict"
	ReasonPolicyWaiting     = "WaitingForNamespaces"

	// Reasons of the Events about pods stuck pulling for want of the copy.
	ReasonEvictedStuckPod = "EvictedStuckPod"
	ReasonStuckPod        = "StuckPod"
)

// ClusterPullSecretList is a list of ClusterPullSecrets.
//
// +kubebuilder:object:root=true
type ClusterPullSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterPullSecret `json:"items"`
}

// TargetSecretName is the name of the copies.
func (c *ClusterPullSecret) TargetSecretName() string {
	if c.Spec.SecretName != "" {
		return c.Spec.SecretName
	}
	return c.Name
}

// ServedServiceAccounts returns spec.serviceAccounts, or ["default"] when empty.
func (c *ClusterPullSecret) ServedServiceAccounts() []string {
	if len(c.Spec.ServiceAccounts) == 0 {
		return []string{"default"}
	}
	return c.Spec.ServiceAccounts
}

// Serves reports whether the ServiceAccount of that name gets the reference.
func (c *ClusterPullSecret) Serves(serviceAccount string) bool {
	for _, n := range c.ServedServiceAccounts() {
		if n == "*" || n == serviceAccount {
			return true
		}
	}
	return false
}

// PatchesServiceAccounts reports spec.patchServiceAccounts (default true).
func (c *ClusterPullSecret) PatchesServiceAccounts() bool {
	return c.Spec.PatchServiceAccounts == nil || *c.Spec.PatchServiceAccounts
}

// Patches reports whether regcred keeps the reference in the ServiceAccount of that
// name: it is served and ServiceAccounts are patched.
func (c *ClusterPullSecret) Patches(serviceAccount string) bool {
	return c.PatchesServiceAccounts() && c.Serves(serviceAccount)
}

// HealsStuckPods reports spec.healStuckPods (default true).
func (c *ClusterPullSecret) HealsStuckPods() bool {
	return c.Spec.HealStuckPods == nil || *c.Spec.HealStuckPods
}

// Injects reports whether regcred keeps an admission policy that adds the copy to
// new pods (spec.injectAtAdmission, default true).
func (c *ClusterPullSecret) Injects() bool {
	return c.Spec.InjectAtAdmission == nil || *c.Spec.InjectAtAdmission
}
