package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CredentialProviderSource runs a kubelet credential provider plugin
// (credentialprovider.kubelet.k8s.io/v1: a CredentialProviderRequest on its stdin, a
// CredentialProviderResponse on its stdout) from the controller's
// --credential-provider-bin-dir, once per ClusterPullSecret, and copies what it
// returns to every targeted namespace. It runs again at about half of what remains of
// the credential's lifetime.
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || duration(self.timeout) <= duration('5m')",message="timeout is at most 5m"
type CredentialProviderSource struct {
	// Name is the plugin's file name in --credential-provider-bin-dir, e.g.
	// ecr-credential-provider; a plain file name, never a path.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][A-Za-z0-9._-]*$`
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="name is a file name, not . or .."
	Name string `json:"name"`

	// Image is the image the request asks credentials for, e.g.
	// 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app. At least one registry key the
	// plugin returns must be one the kubelet would use for it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image"`

	// Args are the plugin's arguments.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	Args []string `json:"args,omitempty"`

	// Env is added to the controller's environment for the plugin, as the kubelet
	// does for its plugins. Values are not secret: anyone who reads the
	// ClusterPullSecret sees them.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Env []CredentialProviderEnvVar `json:"env,omitempty"`

	// ServiceAccountToken, when set, gives the plugin a token of that ServiceAccount
	// for the audience (serviceAccountToken in the request), made with the
	// TokenRequest API, for plugins that exchange it with the cloud's workload
	// identity federation (the kubelet's tokenAttributes).
	// +optional
	ServiceAccountToken *CredentialProviderServiceAccountToken `json:"serviceAccountToken,omitempty"`

	// DefaultCacheDuration is how long a credential lives when the plugin's response
	// has no cacheDuration, or a zero one; 10m when empty.
	// +optional
	DefaultCacheDuration *metav1.Duration `json:"defaultCacheDuration,omitempty"`

	// Timeout is how long the plugin may run before it and every process it started
	// are killed; 1m (the kubelet's limit) when empty, at most 5m.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// CredentialProviderEnvVar is one environment variable of a plugin.
type CredentialProviderEnvVar struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
}

// CredentialProviderServiceAccountToken names the ServiceAccount whose token the
// plugin gets, and the token's audience.
type CredentialProviderServiceAccountToken struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName"`
	// Audience is the token's only audience, the one the cloud's federation expects.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Audience string `json:"audience"`
}

// CredentialStatus is the state of the credential a credential provider minted.
type CredentialStatus struct {
	// ExpiresAt is when the credential served now stops being used: the time it was
	// minted plus the plugin's cacheDuration. Copies keep it until a refresh succeeds.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// MintedAt is when the plugin returned the credential served now.
	// +optional
	MintedAt *metav1.Time `json:"mintedAt,omitempty"`
}

// Condition reasons of credential provider sources.
const (
	// ReasonCredentialProviderFailed: the plugin gave no usable credential, and none
	// minted earlier is still valid; the copies are left as they are.
	ReasonCredentialProviderFailed = "CredentialProviderFailed"
	// ReasonCredentialRefreshFailed: a refresh failed; the copies keep the last good
	// credential until it expires, and the refresh is retried with back-off.
	ReasonCredentialRefreshFailed = "CredentialRefreshFailed"
)
