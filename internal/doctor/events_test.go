package doctor

import "testing"

// The kubelet's and runtimes' words, as seen on the local cluster (containerd 1.6,
// kubelet 1.37) and as CRI-O and Docker Hub phrase them.
func TestClassify(t *testing.T) {
	tests := []struct {
		name, message string
		want          Code
	}{
		{"containerd basic auth 401", `Failed to pull image "127.0.0.1:33829/team/doc:v1": failed to pull and unpack image "127.0.0.1:33829/team/doc:v1": failed to resolve reference "127.0.0.1:33829/team/doc:v1": pulling from host 127.0.0.1:33829 failed with status code [manifests v1]: 401 Unauthorized`, CredentialRejected},
		{"containerd token insufficient scope", `failed to resolve reference "127.0.0.1:44163/team/doc:v1": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`, AccessDenied},
		{"containerd oauth token 401", `failed to resolve reference "r/a:1": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized`, CredentialRejected},
		{"containerd missing tag", `rpc error: code = NotFound desc = failed to pull and unpack image "127.0.0.1:33829/team/doc:nope": failed to resolve reference "127.0.0.1:33829/team/doc:nope": 127.0.0.1:33829/team/doc:nope: not found`, ImageNotFound},
		{"CRI-O manifest unknown", `reading manifest v2 in quay.io/org/app: manifest unknown: manifest unknown`, ImageNotFound},
		{"CRI-O denied", `unable to retrieve auth token: invalid username/password: unauthorized: authentication required`, CredentialRejected},
		{"CRI-O access denied", `reading manifest v1 in docker.io/org/private: requested access to the resource is denied`, AccessDenied},
		{"docker hub rate limit", `429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`, RateLimited},
		{"unknown authority", `tls: failed to verify certificate: x509: certificate signed by unknown authority`, RegistryTLSError},
		{"no IP SANs", `x509: cannot validate certificate for 192.168.2.250 because it doesn't contain any IP SANs`, RegistryTLSError},
		{"plain HTTP", `http: server gave HTTP response to HTTPS client`, RegistryHTTPOnly},
		{"DNS", `dial tcp: lookup registry.internal on 10.96.0.10:53: no such host`, RegistryUnreachable},
		{"refused", `dial tcp 10.0.0.5:5000: connect: connection refused`, RegistryUnreachable},
		{"never pull", `Container image "app:1" is not present with pull policy of Never`, ImageNeverPull},
		{"invalid name", `Failed to apply default image tag "Team/App:1": couldn't parse image name "Team/App:1": invalid reference format`, InvalidImageName},
		{"ECR expiry", `pull access denied: authorization token has expired`, CredentialRejected},
		{"something else", `failed to extract layer: no space left on device`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.message); got != tt.want {
				t.Errorf("classify(%q) = %q, want %q", tt.message, got, tt.want)
			}
		})
	}
}
