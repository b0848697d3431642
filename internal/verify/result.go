package verify

// Result is the verdict on one image with one credential.
type Result struct {
	Outcome Outcome `json:"outcome"`
	// Detail is the evidence: what the registry or the connection said, in one line.
	Detail string `json:"detail"`
	// Ambiguous is set for AccessDenied: no pull right and no such repository look alike.
	Ambiguous bool `json:"ambiguous,omitempty"`
	// TLSProblem names the certificate problem of RegistryTLSError:
	// "unknown authority", "name mismatch", "expired" or "invalid".
	TLSProblem string `json:"tlsProblem,omitempty"`
	// Registry is the host contacted (registry-1.docker.io for Docker Hub).
	Registry string `json:"registry"`
	// Repository and Reference (tag or digest) are what was asked for.
	Repository string `json:"repository"`
	Reference  string `json:"reference"`
	// Scheme is https, or http when the registry speaks only that and it was allowed.
	Scheme string `json:"scheme,omitempty"`
	// Anonymous is what a pull without credentials gets, when asked for.
	Anonymous *Result `json:"anonymous,omitempty"`
}
