package verify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/regcred/regcred/internal/dockercfg"
)

// authorize answers the challenge of a 401 with the credential: Basic auth checked on
// /v2/, or a Bearer token from the realm. It returns the Authorization header.
func (c *Checker) authorize(ctx context.Context, client *http.Client, res Result, challenged *response, t target, cred *dockercfg.Credential) (string, Result, bool) {
	ch, ok := pickChallenge(challenged.challenges())
	if !ok {
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the registry answered 401 without a Basic or Bearer challenge (WWW-Authenticate: %q)", strings.Join(challenged.header.Values("WWW-Authenticate"), "; "))
		return "", res, false
	}
	if ch.Scheme == "bearer" {
		token, r, ok := c.token(ctx, client, res, ch, t, cred)
		if !ok {
			return "", r, false
		}
		return "Bearer " + token, res, true
	}
	if cred == nil || cred.Empty() {
		res.Outcome, res.Detail = AuthRequired, "the registry requires Basic authentication and no credentials were sent"
		return "", res, false
	}
	authHeader := "Basic " + dockercfg.EncodeAuth(cred.Username, cred.Password)
	pong, err := c.get(ctx, client, res.Scheme+"://"+t.host+"/v2/", map[string]string{"Authorization": authHeader})
	switch {
	case err != nil:
		return "", classifyTransport(res, err), false
	case pong.status == http.StatusOK:
		return authHeader, res, true
	case pong.status == http.StatusUnauthorized || pong.status == http.StatusForbidden:
		res.Outcome, res.Detail = CredentialRejected, fmt.Sprintf("the registry refused user %q: GET /v2/ answered %d%s", cred.Username, pong.status, pong.errorSummary())
	case pong.status == http.StatusTooManyRequests:
		res.Outcome, res.Detail = RateLimited, "GET /v2/ with credentials answered 429 Too Many Requests"
	default:
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("GET /v2/ with credentials answered %d%s", pong.status, pong.errorSummary())
	}
	return "", res, false
}

// pickChallenge prefers Bearer to Basic whatever their order, as containerd does.
func pickChallenge(chs []Challenge) (Challenge, bool) {
	for _, want := range []string{"bearer", "basic"} {
		for _, c := range chs {
			if c.Scheme == want {
				return c, true
			}
		}
	}
	return Challenge{}, false
}
