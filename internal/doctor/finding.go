package doctor

// Severity of a finding: errors stop a pull now, warnings will (or may) later.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Code names a root cause. Codes are stable: scripts match on them.
type Code string

// The codes doctor reports; README lists them with their meaning.
const (
	SecretNotFound                  Code = "SecretNotFound"
	SecretWrongType                 Code = "SecretWrongType"
	SecretMalformed                 Code = "SecretMalformed"
	NoMatchingCredential            Code = "NoMatchingCredential"
	EmptyCredential                 Code = "EmptyCredential"
	ServiceAccountSecretsNotApplied Code = "ServiceAccountSecretsNotApplied"
	ImageNeverPull                  Code = "ImageNeverPull"
	InvalidImageName                Code = "InvalidImageName"
	CredentialRejected              Code = "CredentialRejected"
	AccessDenied                    Code = "AccessDenied"
	ImageNotFound                   Code = "ImageNotFound"
	RateLimited                     Code = "RateLimited"
	RegistryTLSError                Code = "RegistryTLSError"
	RegistryHTTPOnly                Code = "RegistryHTTPOnly"
	RegistryUnreachable             Code = "RegistryUnreachable"
	// PullFailed is a pull failure whose cause neither the kubelet's words nor the
	// registry identify.
	PullFailed Code = "PullFailed"
	// ChecksSkipped says which checks could not run (no permission to read Secrets).
	ChecksSkipped Code = "ChecksSkipped"
	// NodeLocalCredential: the image runs on nodes that have credentials of their own
	// and fails on others, and no pull Secret of the pod supplies one.
	NodeLocalCredential Code = "NodeLocalCredential"
	// ReschedulingRisk: a running pod whose image the registry refuses without
	// credentials and for which no pull Secret works: it runs thanks to its node only.
	ReschedulingRisk Code = "ReschedulingRisk"
	// SandboxImagePullFailed: the runtime cannot pull the pod sandbox (pause) image;
	// pull Secrets cannot help.
	SandboxImagePullFailed Code = "SandboxImagePullFailed"
)

// Finding is one problem of one container's image pull, with the evidence and the fix.
type Finding struct {
	Code      Code     `json:"code"`
	Severity  Severity `json:"severity"`
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	Container string   `json:"container"`
	Image     string   `json:"image"`
	Secret    string   `json:"secret,omitempty"`
	Nodes     []string `json:"nodes,omitempty"`
	Message   string   `json:"message"`
	Evidence  string   `json:"evidence,omitempty"`
	Fix       []string `json:"fix"`
	// NodeProbe is set when the registry could not be probed from here (it is the
	// node's loopback): only a probe from the node (--probe-node) sees it.
	NodeProbe bool `json:"nodeProbe,omitempty"`
	// ClusterPullSecret and SourceSecret are set when Secret is a copy regcred keeps:
	// the ClusterPullSecret that makes it, and its source (namespace/name), the one
	// Secret the fixes change.
	ClusterPullSecret string `json:"clusterPullSecret,omitempty"`
	SourceSecret      string `json:"sourceSecret,omitempty"`
}
