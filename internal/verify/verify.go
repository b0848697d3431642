package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// PlainHTTP says when plain HTTP may be used after HTTPS finds a plain-HTTP registry.
type PlainHTTP int

const (
	// PlainHTTPLoopback allows it for registries on loopback addresses, as containerd does.
	PlainHTTPLoopback PlainHTTP = iota
	// PlainHTTPNever reports RegistryHTTPOnly for every plain-HTTP registry.
	PlainHTTPNever
	// PlainHTTPAlways allows it for any registry (the user said the registry is insecure).
	PlainHTTPAlways
)

// Checker checks images against registries. The zero value is usable.
type Checker struct {
	// Timeout bounds each HTTP request (default 10 s).
	Timeout time.Duration
	// RootCAs replaces the system trust store when set.
	RootCAs *x509.CertPool
	// PlainHTTP is the plain-HTTP policy.
	PlainHTTP PlainHTTP
	// Transport, when set, is used instead of one built from the fields above.
	Transport http.RoundTripper
}

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

var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
}

// target is a parsed image.
type target struct {
	host, repository, reference string
}

func parseImage(image string) (target, error) {
	named, err := keyring.ParseImage(image)
	if err != nil {
		return target{}, err
	}
	t := target{host: reference.Domain(named), repository: reference.Path(named), reference: "latest"}
	if dockercfg.IsDockerHub(t.host) {
		t.host = dockercfg.DockerHubAPIHost
	}
	if tagged, ok := named.(reference.Tagged); ok {
		t.reference = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		t.reference = digested.Digest().String()
	}
	return t, nil
}

// Check asks the registry whether image can be pulled with cred (nil: anonymously).
// With anonymous set and a credential given, Result.Anonymous says what a pull
// without credentials gets.
func (c *Checker) Check(ctx context.Context, image string, cred *dockercfg.Credential, anonymous bool) (Result, error) {
	t, err := parseImage(image)
	if err != nil {
		return Result{}, err
	}
	client := &http.Client{
		Transport: c.transport(),
		Timeout:   c.timeout(),
		// Redirects are followed (Go drops the Authorization header on a change of
		// host), but never from HTTPS down to plain HTTP.
		CheckRedirect: noDowngrade,
	}
	defer client.CloseIdleConnections()
	r := c.check(ctx, client, t, cred)
	if anonymous && cred != nil {
		a := c.check(ctx, client, t, nil)
		r.Anonymous = &a
	}
	return r, nil
}

func (c *Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

func (c *Checker) transport() http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return c.NewTransport()
}

// NewTransport returns the transport Check uses by default. Set it as Transport to
// share connections between many checks.
func (c *Checker) NewTransport() http.RoundTripper {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: c.timeout()}).DialContext,
		TLSHandshakeTimeout:   c.timeout(),
		ResponseHeaderTimeout: c.timeout(),
		TLSClientConfig:       &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost:   4,
	}
}

func (c *Checker) check(ctx context.Context, client *http.Client, t target, cred *dockercfg.Credential) Result {
	res := Result{Registry: t.host, Repository: t.repository, Reference: t.reference}
	ping, res, ok := c.ping(ctx, client, res)
	if !ok {
		return res
	}
	authHeader := ""
	if ping.status == http.StatusUnauthorized {
		if authHeader, res, ok = c.authorize(ctx, client, res, ping, t, cred); !ok {
			return res
		}
	}
	return c.manifest(ctx, client, res, t, authHeader, cred)
}

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

// ping sends GET /v2/ over HTTPS, or plain HTTP where the policy allows a registry
// that speaks only that. A 200 or a 401 carries on (ok); anything else is the outcome.
func (c *Checker) ping(ctx context.Context, client *http.Client, res Result) (*response, Result, bool) {
	res.Scheme = "https"
	resp, err := get(ctx, client, "https://"+res.Registry+"/v2/", nil)
	if err != nil && isHTTPResponseToHTTPS(err) {
		if !c.allowsPlainHTTP(res.Registry) {
			res.Outcome, res.Detail = RegistryHTTPOnly, "the registry answers HTTPS with plain HTTP; a runtime refuses it unless the node is configured for an insecure registry"
			return nil, res, false
		}
		res.Scheme = "http"
		resp, err = get(ctx, client, "http://"+res.Registry+"/v2/", nil)
	}
	switch {
	case err != nil:
		return nil, classifyTransport(res, err), false
	case resp.status == http.StatusOK || resp.status == http.StatusUnauthorized:
		return resp, res, true
	case resp.status == http.StatusTooManyRequests:
		res.Outcome, res.Detail = RateLimited, "GET /v2/ answered 429 Too Many Requests"
	default:
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("GET /v2/ answered %d%s: not a registry API, or a registry in trouble", resp.status, resp.errorSummary())
	}
	return nil, res, false
}

// authorize answers the challenge of a 401 with the credential: Basic auth checked on
// /v2/, or a Bearer token from the realm. It returns the Authorization header.
func (c *Checker) authorize(ctx context.Context, client *http.Client, res Result, challenged *response, t target, cred *dockercfg.Credential) (string, Result, bool) {
	ch, ok := pickChallenge(ParseChallenges(challenged.header.Get("WWW-Authenticate")))
	if !ok {
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("the registry answered 401 without a Basic or Bearer challenge (WWW-Authenticate: %q)", challenged.header.Get("WWW-Authenticate"))
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
	pong, err := get(ctx, client, res.Scheme+"://"+t.host+"/v2/", map[string]string{"Authorization": authHeader})
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

// manifest asks for the manifest with HEAD (which registries do not count as a pull),
// and repeats it as GET only to read the error body when HEAD fails.
func (c *Checker) manifest(ctx context.Context, client *http.Client, res Result, t target, authHeader string, cred *dockercfg.Credential) Result {
	u := res.Scheme + "://" + t.host + "/v2/" + t.repository + "/manifests/" + t.reference
	headers := map[string]string{"Accept": strings.Join(manifestTypes, ", ")}
	if authHeader != "" {
		headers["Authorization"] = authHeader
	}
	resp, err := do(ctx, client, http.MethodHead, u, headers)
	if err != nil {
		return classifyTransport(res, err)
	}
	if resp.status == http.StatusUnauthorized && authHeader == "" && resp.header.Get("WWW-Authenticate") != "" {
		// /v2/ was open but the repository asks for authentication, as runtimes
		// follow: answer this challenge and ask again.
		var ok bool
		if authHeader, res, ok = c.authorize(ctx, client, res, resp, t, cred); !ok {
			return res
		}
		headers["Authorization"] = authHeader
		if resp, err = do(ctx, client, http.MethodHead, u, headers); err != nil {
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
	if full, err := get(ctx, client, u, headers); err == nil && full.status == resp.status {
		resp = full
	}
	where := fmt.Sprintf("manifest %s of %s: %d%s", t.reference, t.repository, resp.status, resp.errorSummary())
	switch {
	case resp.status == http.StatusTooManyRequests || resp.hasCode("TOOMANYREQUESTS"):
		res.Outcome, res.Detail = RateLimited, where
	case resp.status == http.StatusNotFound && resp.hasCode("NAME_UNKNOWN"):
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

// noDowngrade refuses a redirect from HTTPS to plain HTTP, which would carry the
// Authorization header unencrypted to the same host.
func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Scheme == "http" && via[len(via)-1].URL.Scheme == "https" {
		return fmt.Errorf("refused a redirect from HTTPS to plain HTTP (%s)", req.URL.Host)
	}
	return nil
}

func (c *Checker) allowsPlainHTTP(host string) bool {
	switch c.PlainHTTP {
	case PlainHTTPAlways:
		return true
	case PlainHTTPNever:
		return false
	default:
		return isLoopback(host)
	}
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// pickChallenge prefers Bearer, as runtimes do.
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

// response is what the checker keeps of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func get(ctx context.Context, client *http.Client, u string, headers map[string]string) (*response, error) {
	return do(ctx, client, http.MethodGet, u, headers)
}

func do(ctx context.Context, client *http.Client, method, u string, headers map[string]string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "regcred")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiErrors returns the distribution errors of the body.
func (r *response) apiErrors() []apiError {
	var e struct {
		Errors []apiError `json:"errors"`
	}
	if json.Unmarshal(r.body, &e) != nil {
		return nil
	}
	return e.Errors
}

// hasCode reports whether the body carries a distribution error code.
func (r *response) hasCode(code string) bool {
	return slices.ContainsFunc(r.apiErrors(), func(e apiError) bool { return e.Code == code })
}

// errorSummary is " (CODE: message; error=...)" from a distribution error body and
// the Bearer challenge's error, or "".
func (r *response) errorSummary() string {
	var parts []string
	for _, e := range r.apiErrors() {
		parts = append(parts, strings.TrimSpace(e.Code+": "+e.Message))
	}
	for _, ch := range ParseChallenges(r.header.Get("WWW-Authenticate")) {
		if msg := ch.Params["error"]; msg != "" {
			parts = append(parts, "error="+msg)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
