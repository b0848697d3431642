package doctor

import "strings"

// causes maps the words of kubelet events and container statuses (containerd and
// CRI-O phrasings) to a cause. The first row whose phrase occurs wins, so more
// specific phrases come first. This is the one place that reads foreign text.
var causes = []struct {
	code    Code
	phrases []string
}{
	{ImageNeverPull, []string{"ErrImageNeverPull", "image is not present with pull policy of Never", "pull policy of Never"}},
	{InvalidImageName, []string{"InvalidImageName", "couldn't parse image name", "invalid reference format"}},
	{RateLimited, []string{"toomanyrequests", "429 Too Many Requests", "rate limit"}},
	{RegistryTLSError, []string{"x509:", "tls: failed to verify certificate", "certificate signed by unknown authority", "doesn't contain any IP SANs", "certificate is valid for", "certificate has expired"}},
	{RegistryHTTPOnly, []string{"server gave HTTP response to HTTPS client", "http: server gave HTTP response"}},
	{RegistryUnreachable, []string{"no such host", "connection refused", "i/o timeout", "network is unreachable", "no route to host", "dial tcp", "context deadline exceeded"}},
	{CredentialRejected, []string{"401 Unauthorized", "failed to fetch oauth token", "failed to fetch anonymous token", "invalid username/password", "unauthorized: authentication required", "authorization token has expired", "no basic auth credentials"}},
	{AccessDenied, []string{"insufficient_scope", "pull access denied", "requested access to the resource is denied", "403 Forbidden", "denied:"}},
	{ImageNotFound, []string{"manifest unknown", ": not found", "not found: manifest", "name unknown", "repository does not exist"}},
}

// classify returns the cause the kubelet's words name, or "" when none does.
func classify(message string) Code {
	for _, c := range causes {
		for _, p := range c.phrases {
			if strings.Contains(message, p) {
				return c.code
			}
		}
	}
	return ""
}
