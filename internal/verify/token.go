package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/regcred/regcred/internal/dockercfg"
)

// token exchanges the credential for a Bearer token with pull scope.
func (c *Checker) token(ctx context.Context, client *http.Client, res Result, ch Challenge, t target, cred *dockercfg.Credential) (string, Result, bool) {
	realm, err := url.Parse(ch.Params["realm"])
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the registry's token realm %q is not an absolute http(s) URL", ch.Params["realm"])
		return "", res, false
	}
	if realm.Scheme == "http" && cred != nil && !cred.Empty() && !c.allowsPlainHTTP(realm.Host) {
		res.Outcome, res.Detail = RegistryHTTPOnly, fmt.Sprintf("the token realm %s is plain HTTP: the password would travel unencrypted, so it was not sent", realm.Host)
		return "", res, false
	}
	q := realm.Query()
	if s := ch.Params["service"]; s != "" {
		q.Set("service", s)
	}
	if t.repository != "" {
		q.Set("scope", "repository:"+t.repository+":pull")
	}
	realm.RawQuery = q.Encode()
	headers := map[string]string{}
	if cred != nil && !cred.Empty() {
		headers["Authorization"] = "Basic " + dockercfg.EncodeAuth(cred.Username, cred.Password)
	}
	resp, err := get(ctx, client, realm.String(), headers)
	if err != nil {
		res = classifyTransport(res, err)
		res.Detail = "token server " + realm.Host + ": " + res.Detail
		return "", res, false
	}
	switch {
	case resp.status == http.StatusTooManyRequests:
		res.Outcome, res.Detail = RateLimited, "the token server answered 429 Too Many Requests"
		return "", res, false
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		if cred == nil || cred.Empty() {
			res.Outcome, res.Detail = AuthRequired, fmt.Sprintf("the token server %s refused an anonymous token: %d%s", realm.Host, resp.status, resp.errorSummary())
		} else {
			res.Outcome, res.Detail = CredentialRejected, fmt.Sprintf("the token server %s refused user %q: %d%s", realm.Host, cred.Username, resp.status, resp.errorSummary())
		}
		return "", res, false
	case resp.status != http.StatusOK:
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the token server %s answered %d%s", realm.Host, resp.status, resp.errorSummary())
		return "", res, false
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(resp.body, &tok); err != nil || (tok.Token == "" && tok.AccessToken == "") {
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the token server %s answered 200 without a token", realm.Host)
		return "", res, false
	}
	if tok.Token != "" {
		return tok.Token, res, true
	}
	return tok.AccessToken, res, true
}
