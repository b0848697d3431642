package verify

// Outcome is the verdict of one check.
type Outcome string

// Outcomes, stable: they appear in JSON output and in doctor's finding codes.
const (
	// OK: the manifest was found with the credential (or anonymously).
	OK Outcome = "OK"
	// AuthRequired: no credential was sent and the registry requires one.
	AuthRequired Outcome = "AuthRequired"
	// CredentialRejected: the registry or its token server refused the username/password.
	CredentialRejected Outcome = "CredentialRejected"
	// AccessDenied: authenticated, but no pull right on the repository, or the
	// repository does not exist (registries do not say which).
	AccessDenied Outcome = "AccessDenied"
	// ImageNotFound: the repository answered and the tag or digest (or repository) is missing.
	ImageNotFound Outcome = "ImageNotFound"
	// RateLimited: the registry answered 429 / TOOMANYREQUESTS.
	RateLimited Outcome = "RateLimited"
	// RegistryTLSError: the certificate was not trusted (unknown authority, name
	// mismatch, expired or otherwise invalid).
	RegistryTLSError Outcome = "RegistryTLSError"
	// RegistryHTTPOnly: the registry speaks plain HTTP, which a runtime refuses unless told.
	RegistryHTTPOnly Outcome = "RegistryHTTPOnly"
	// RegistryUnreachable: no answer: name not resolved, connection refused, timeout.
	RegistryUnreachable Outcome = "RegistryUnreachable"
	// RegistryError: an answer that fits none of the above (5xx, a token server that
	// returns no token, a ping that is not a registry's), or one that would carry the
	// password over plain HTTP from an HTTPS registry (a plain-HTTP token realm, a
	// redirect to plain HTTP), which is not followed.
	RegistryError Outcome = "RegistryError"
)

// Pullable reports whether the outcome means the image can be pulled.
func (o Outcome) Pullable() bool { return o == OK }
