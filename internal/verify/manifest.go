package verify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/regcred/regcred/internal/dockercfg"
)

var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
}

// manifest asks for the manifest with HEAD (which registries do not count as a pull),
// and repeats it as GET only to read the error body when HEAD fails.
func (c *Checker) manifest(ctx context.Context, client *http.Client, res Result, t target, authHeader string, cred *dockercfg.Credential) Result {
	u := res.Scheme + "://" + t.host + "/v2/" + t.repository + "/manifests/" + t.reference
	headers := map[string]string{"Accept": strings.Join(manifestTypes, ", ")}
	if authHeader != "" {
		headers["Authorization"] = authHeader
	}
	resp, err := c.do(ctx, client, request{method: http.MethodHead, url: u, header: headers})
	if err != nil {
		return classifyTransport(res, err)
	}
	if resp.status == http.StatusUnauthorized && authHeader == "" && len(resp.challenges()) > 0 {
		// /v2/ was open but the repository asks for authentication, as runtimes
		// follow: answer this challenge and ask again.
		var ok bool
		if authHeader, res, ok = c.authorize(ctx, client, res, resp, t, cred); !ok {
			return res
		}
		headers["Authorization"] = authHeader
		if resp, err = c.do(ctx, client, request{method: http.MethodHead, url: u, header: headers}); err != nil {
			return classifyTransport(res, err)
		}
	}
	if resp.status == http.StatusOK {
		res.Outcome, res.Detail = OK, "manifest "+t.reference+" found"
		if d := resp.header.Get("Docker-Content-Digest"); d != "" {
			res.Detail += " (" + d + ")"
		}
		return res
	}
	if full, err := c.get(ctx, client, u, headers); err == nil && full.status == resp.status {
		resp = full
	}
	where := fmt.Sprintf("manifest %s of %s: %d%s", t.reference, t.repository, resp.status, resp.errorSummary())
	switch {
	case resp.status == http.StatusTooManyRequests || resp.hasCode(transport.TooManyRequestsErrorCode):
		res.Outcome, res.Detail = RateLimited, where
	case resp.status == http.StatusNotFound && resp.hasCode(transport.NameUnknownErrorCode):
		res.Outcome, res.Detail = ImageNotFound, where+": the repository does not exist"
	case resp.status == http.StatusNotFound:
		res.Outcome, res.Detail = ImageNotFound, where+": the registry has no "+t.reference+" in "+t.repository
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		if cred == nil || cred.Empty() {
			res.Outcome, res.Detail = AuthRequired, where+": the repository is not public"
		} else {
			res.Outcome, res.Ambiguous = AccessDenied, true
			res.Detail = where + fmt.Sprintf(": user %q is authenticated but may not pull %s, or the repository does not exist (registries do not say which)", cred.Username, t.repository)
		}
	default:
		res.Outcome, res.Detail = RegistryError, where
	}
	return res
}
