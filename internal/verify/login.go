package verify

import (
	"context"
	"fmt"
	"net/http"

	"github.com/regcred/regcred/internal/dockercfg"
)

// Login checks a credential against a registry without naming an image, as
// `docker login` does: Basic auth on /v2/, or a token without a scope. OK means the
// credential is accepted, or the registry asks for none at /v2/ (Detail says which);
// it says nothing of pull rights.
func (c *Checker) Login(ctx context.Context, host string, cred dockercfg.Credential) Result {
	if dockercfg.IsDockerHub(host) {
		host = dockercfg.DockerHubAPIHost
	}
	res := Result{Registry: host}
	if cred.Username == "" || cred.Password == "" {
		res.Outcome, res.Detail = CredentialRejected, "the credential has no username or no password: there is nothing to log in with"
		return res
	}
	client := &http.Client{Transport: c.transport(), Timeout: c.timeout(), CheckRedirect: noDowngrade}
	defer client.CloseIdleConnections()
	ping, res, ok := c.ping(ctx, client, res)
	if !ok {
		return res
	}
	if ping.status == http.StatusOK {
		res.Outcome, res.Detail = OK, host+" asks for no authentication at /v2/: the credential was not checked (a repository may still ask for it)"
		return res
	}
	if _, res, ok = c.authorize(ctx, client, res, ping, target{host: host}, &cred); ok {
		res.Outcome, res.Detail = OK, fmt.Sprintf("%s accepted user %q", host, cred.Username)
	}
	return res
}

// Ping asks the registry's /v2/ without credentials: it answers whether the name
// resolves, the connection opens, TLS completes with this checker's trust, and a
// registry API answers. OK means it did (200, or 401 asking for credentials).
func (c *Checker) Ping(ctx context.Context, host string) Result {
	client := &http.Client{Transport: c.transport(), Timeout: c.timeout(), CheckRedirect: noDowngrade}
	defer client.CloseIdleConnections()
	ping, res, ok := c.ping(ctx, client, Result{Registry: host})
	if ok {
		res.Outcome, res.Detail = OK, fmt.Sprintf("GET /v2/ over %s answered %d", res.Scheme, ping.status)
	}
	return res
}
