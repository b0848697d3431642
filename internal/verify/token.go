package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/regcred/regcred/internal/dockercfg"
)

// tokenClientID names regcred to token servers in the OAuth2 form, as containerd
// sends "containerd-client".
const tokenClientID = "regcred"

// token gets a Bearer token with pull scope, as containerd does: with a password, an
// OAuth2 POST with the password grant (the refresh_token grant when there is no user
// name), then a GET with Basic auth when the token server does not take the POST
// (404, 401, 400, or 405 with a user name); without a password, an anonymous GET.
// A password is never sent to a plain-HTTP realm of a registry reached over HTTPS.
func (c *Checker) token(ctx context.Context, client *http.Client, res Result, ch Challenge, t target, cred *dockercfg.Credential) (string, Result, bool) {
	realm, err := url.Parse(ch.Params["realm"])
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the registry's token realm %q is not an absolute http(s) URL", ch.Params["realm"])
		return "", res, false
	}
	secret := cred != nil && cred.Password != ""
	if secret && realm.Scheme == "http" && (res.Scheme == "https" || !c.allowsPlainHTTP(realm.Host)) {
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the token realm %s is plain HTTP for a registry reached over %s: the password would travel unencrypted, so it was not sent", realm.Host, res.Scheme)
		return "", res, false
	}
	scopes := tokenScopes(ch, t)
	var resp *response
	method := http.MethodGet
	if secret {
		method = http.MethodPost
		resp, err = c.do(ctx, client, request{method: http.MethodPost, url: realm.String(), form: oauthForm(ch, scopes, cred)})
		if err == nil && postRefused(resp.status, cred.Username) {
			resp, method = nil, "POST answered "+fmt.Sprint(resp.status)+", then GET"
		}
	}
	if err == nil && resp == nil {
		u := *realm
		q := u.Query()
		if s := ch.Params["service"]; s != "" {
			q.Set("service", s)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		u.RawQuery = q.Encode()
		var headers map[string]string
		if secret {
			headers = map[string]string{"Authorization": "Basic " + dockercfg.EncodeAuth(cred.Username, cred.Password)}
		}
		resp, err = c.get(ctx, client, u.String(), headers)
	}
	if err != nil {
		res = classifyTransport(res, err)
		res.Detail = "token server " + realm.Host + ": " + res.Detail
		return "", res, false
	}
	switch {
	case resp.status == http.StatusTooManyRequests:
		res.Outcome, res.Detail = RateLimited, fmt.Sprintf("the token server answered %s: 429 Too Many Requests", method)
		return "", res, false
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		if !secret {
			res.Outcome, res.Detail = AuthRequired, fmt.Sprintf("the token server %s refused an anonymous token: %d%s", realm.Host, resp.status, resp.errorSummary())
		} else {
			res.Outcome, res.Detail = CredentialRejected, fmt.Sprintf("the token server %s refused user %q: %s answered %d%s", realm.Host, cred.Username, method, resp.status, resp.errorSummary())
		}
		return "", res, false
	case resp.status < 200 || resp.status > 299:
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the token server %s answered %s with %d%s", realm.Host, method, resp.status, resp.errorSummary())
		return "", res, false
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(resp.body, &tok); err != nil || (tok.AccessToken == "" && (method == http.MethodPost || tok.Token == "")) {
		// The OAuth2 answer carries access_token; the GET answer token or access_token.
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the token server %s answered %s with 200 but no token", realm.Host, method)
		return "", res, false
	}
	if tok.AccessToken != "" {
		return tok.AccessToken, res, true
	}
	return tok.Token, res, true
}

// tokenScopes are the challenge's scopes and the repository's pull scope, sorted and
// without repeats, as containerd asks for them.
func tokenScopes(ch Challenge, t target) []string {
	scopes := strings.Fields(ch.Params["scope"])
	if t.repository != "" {
		scopes = append(scopes, "repository:"+t.repository+":pull")
	}
	slices.Sort(scopes)
	return slices.Compact(scopes)
}

// oauthForm is the OAuth2 token request of the distribution spec's OAuth flow.
func oauthForm(ch Challenge, scopes []string, cred *dockercfg.Credential) url.Values {
	form := url.Values{}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	form.Set("service", ch.Params["service"])
	form.Set("client_id", tokenClientID)
	if cred.Username == "" {
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", cred.Password)
	} else {
		form.Set("grant_type", "password")
		form.Set("username", cred.Username)
		form.Set("password", cred.Password)
	}
	return form
}

// postRefused reports whether a token server's answer to the OAuth2 POST sends
// containerd on to the GET: registries without the POST answer 404 (GCR), 401
// (Artifactory), 400 (ACR) or 405.
func postRefused(status int, username string) bool {
	switch status {
	case http.StatusNotFound, http.StatusUnauthorized, http.StatusBadRequest:
		return true
	case http.StatusMethodNotAllowed:
		return username != ""
	}
	return false
}
