package verify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/pki"
	"github.com/regcred/regcred/test/registry"
)

// recorded is what a recorder saw of one request.
type recorded struct {
	method, path, authorization string
	form                        url.Values // a POST's form
	query                       url.Values
}

// carriesCredentials reports whether the request carried a password, in a header or a form.
func (r recorded) carriesCredentials() bool {
	return r.authorization != "" || r.form.Get("password") != "" || r.form.Get("refresh_token") != ""
}

// recorder is a real plain-HTTP server on loopback that records every request and
// passes it on to a real server (forward), or answers 401 when there is none.
// refusePOST, when set, is the status it answers a POST with instead, as token
// servers without the OAuth2 POST do.
type recorder struct {
	srv        *httptest.Server
	forward    atomic.Pointer[url.URL]
	refusePOST int
	mu         sync.Mutex
	reqs       []recorded
}

func startRecorder(t *testing.T, refusePOST int) *recorder {
	t.Helper()
	rec := &recorder{refusePOST: refusePOST}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		seen := recorded{method: r.Method, path: r.URL.Path, authorization: r.Header.Get("Authorization"), query: r.URL.Query()}
		if r.Method == http.MethodPost {
			seen.form, _ = url.ParseQuery(string(body))
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen)
		rec.mu.Unlock()
		target := rec.forward.Load()
		switch {
		case r.Method == http.MethodPost && rec.refusePOST != 0:
			w.WriteHeader(rec.refusePOST)
		case target == nil:
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"recorder"}]}`, http.StatusUnauthorized)
		default:
			httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
		}
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs...)
}

// startHTTPS starts a real HTTPS server on loopback with a certificate from a CA of
// its own, added to pool.
func startHTTPS(t *testing.T, pool *x509.CertPool, h http.Handler) *httptest.Server {
	t.Helper()
	ca, err := pki.NewCA("regcred test front CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Serving("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool.AppendCertsFromPEM(ca.PEM)
	return srv
}

func startRegistry(t *testing.T, o registry.Options, repos ...string) *registry.Registry {
	t.Helper()
	ctx := context.Background()
	r, err := registry.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if len(repos) > 0 {
		img, err := images.Pause(ctx, "verify")
		if err != nil {
			t.Fatal(err)
		}
		for _, repo := range repos {
			if _, err := r.Push(ctx, repo, img); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// TestCredentialsNeverInTheClear: against real registries and real HTTP and HTTPS
// listeners, a password is never sent to a plain-HTTP token realm of an HTTPS
// registry, nor across a redirect from HTTPS to plain HTTP, in a header or in the
// OAuth2 form. The last case is the control: for a plain-HTTP registry on loopback
// the same recorder does see the credentials.
func TestCredentialsNeverInTheClear(t *testing.T) {
	users := map[string]string{"alice": alicePass}
	acl := map[string][]string{"alice": {"team/*"}}
	tests := []struct {
		name string
		// setup returns the image to check and the checker's trust.
		setup     func(t *testing.T, rec *recorder) (image string, c verify.Checker)
		want      verify.Outcome
		detail    string
		clearSent bool // the control: credentials over plain HTTP are expected
	}{
		{
			name: "HTTPS registry, plain-HTTP token realm",
			setup: func(t *testing.T, rec *recorder) (string, verify.Checker) {
				reg := startRegistry(t, registry.Options{Auth: registry.AuthToken, TLS: true, Users: users, Pull: acl, TokenRealm: rec.srv.URL + "/token"}, "team/app:v1")
				return reg.Ref("team/app:v1"), verify.Checker{RootCAs: reg.CertPool()}
			},
			want: verify.RegistryError, detail: "was not sent",
		},
		{
			name: "HTTPS registry, HTTPS token realm redirecting the POST to plain HTTP",
			setup: func(t *testing.T, rec *recorder) (string, verify.Checker) {
				return redirectingRealm(t, rec, users, acl, 0)
			},
			want: verify.RegistryError, detail: "refused a redirect from HTTPS",
		},
		{
			name: "HTTPS registry, HTTPS token realm without the POST redirecting the GET to plain HTTP",
			setup: func(t *testing.T, rec *recorder) (string, verify.Checker) {
				return redirectingRealm(t, rec, users, acl, http.StatusNotFound)
			},
			want: verify.RegistryError, detail: "refused a redirect from HTTPS",
		},
		{
			// The distribution registry does not redirect its API: a stand-in HTTPS
			// front asks for Basic auth and redirects the authenticated request.
			name: "HTTPS registry redirecting an authenticated request to plain HTTP",
			setup: func(t *testing.T, rec *recorder) (string, verify.Checker) {
				c := verify.Checker{}
				pool := newPool()
				front := startHTTPS(t, pool, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") == "" {
						w.Header().Set("WWW-Authenticate", `Basic realm="front"`)
						w.WriteHeader(http.StatusUnauthorized)
						return
					}
					http.Redirect(w, r, rec.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
				}))
				c.RootCAs = pool
				return strings.TrimPrefix(front.URL, "https://") + "/team/app:v1", c
			},
			want: verify.RegistryError, detail: "refused a redirect from HTTPS",
		},
		{
			name: "control: plain-HTTP registry on loopback, plain-HTTP token realm",
			setup: func(t *testing.T, rec *recorder) (string, verify.Checker) {
				reg := startRegistry(t, registry.Options{Auth: registry.AuthToken, Users: users, Pull: acl, TokenRealm: rec.srv.URL + "/token"}, "team/app:v1")
				rec.forward.Store(&url.URL{Scheme: "http", Host: reg.Host})
				return reg.Ref("team/app:v1"), verify.Checker{}
			},
			want: verify.OK, clearSent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := startRecorder(t, 0)
			image, c := tt.setup(t, rec)
			got, err := c.Check(context.Background(), image, cred("alice", alicePass), true)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.want || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("Check(%s) = %s (%s), want %s with %q", image, got.Outcome, got.Detail, tt.want, tt.detail)
			}
			sent := false
			for _, r := range rec.requests() {
				sent = sent || r.carriesCredentials()
			}
			if sent != tt.clearSent {
				var seen []string
				for _, r := range rec.requests() {
					seen = append(seen, fmt.Sprintf("%s %s (credentials: %v)", r.method, r.path, r.carriesCredentials()))
				}
				t.Errorf("credentials reached the plain-HTTP listener: %v, want %v (requests: %v)", sent, tt.clearSent, seen)
			}
		})
	}
}

// redirectingRealm starts an HTTPS token registry whose realm is an HTTPS server
// that redirects token requests to the plain-HTTP recorder; with refusePOST set it
// answers the OAuth2 POST with that status and redirects only the GET.
func redirectingRealm(t *testing.T, rec *recorder, users map[string]string, acl map[string][]string, refusePOST int) (string, verify.Checker) {
	pool := newPool()
	realm := startHTTPS(t, pool, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && refusePOST != 0 {
			w.WriteHeader(refusePOST)
			return
		}
		http.Redirect(w, r, rec.srv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	reg := startRegistry(t, registry.Options{Auth: registry.AuthToken, TLS: true, Users: users, Pull: acl, TokenRealm: realm.URL + "/token"}, "team/app:v1")
	pool.AppendCertsFromPEM(reg.CAPEM)
	return reg.Ref("team/app:v1"), verify.Checker{RootCAs: pool}
}

// TestTokenExchange: tokens are asked for as containerd asks, from a real token
// server behind a recorder: with a password an OAuth2 POST with the password grant,
// then a GET with Basic auth where the server does not take the POST; anonymously a
// GET without credentials.
func TestTokenExchange(t *testing.T) {
	users := map[string]string{"alice": alicePass, "bob": bobPass}
	acl := map[string][]string{"alice": {"team/*"}}
	tests := []struct {
		name       string
		refusePOST int
		cred       *dockercfg.Credential
		want       verify.Outcome
		methods    []string
	}{
		{"password grant", 0, cred("alice", alicePass), verify.OK, []string{"POST"}},
		{"wrong password: POST refused, then GET", 0, cred("alice", "wrong-password-0000"), verify.CredentialRejected, []string{"POST", "GET"}},
		{"valid user without the pull right", 0, cred("bob", bobPass), verify.AccessDenied, []string{"POST"}},
		{"no POST (404, as GCR)", http.StatusNotFound, cred("alice", alicePass), verify.OK, []string{"POST", "GET"}},
		{"no POST (400, as ACR)", http.StatusBadRequest, cred("alice", alicePass), verify.OK, []string{"POST", "GET"}},
		{"no POST (401, as Artifactory)", http.StatusUnauthorized, cred("alice", alicePass), verify.OK, []string{"POST", "GET"}},
		{"no POST (405)", http.StatusMethodNotAllowed, cred("alice", alicePass), verify.OK, []string{"POST", "GET"}},
		{"POST failing otherwise is the answer", http.StatusInternalServerError, cred("alice", alicePass), verify.RegistryError, []string{"POST"}},
		{"anonymous", 0, nil, verify.AuthRequired, []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := startRecorder(t, tt.refusePOST)
			reg := startRegistry(t, registry.Options{Auth: registry.AuthToken, Users: users, Pull: acl, TokenRealm: rec.srv.URL + "/token"}, "team/app:v1")
			rec.forward.Store(&url.URL{Scheme: "http", Host: reg.Host})
			var c verify.Checker
			got, err := c.Check(context.Background(), reg.Ref("team/app:v1"), tt.cred, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.want {
				t.Errorf("Check = %s (%s), want %s", got.Outcome, got.Detail, tt.want)
			}
			reqs := rec.requests()
			var methods []string
			for _, r := range reqs {
				methods = append(methods, r.method)
			}
			if strings.Join(methods, ",") != strings.Join(tt.methods, ",") {
				t.Fatalf("token requests %v, want %v", methods, tt.methods)
			}
			for _, r := range reqs {
				scope := "repository:team/app:pull"
				switch r.method {
				case http.MethodPost:
					f := r.form
					if f.Get("grant_type") != "password" || f.Get("username") != tt.cred.Username || f.Get("password") != tt.cred.Password ||
						f.Get("scope") != scope || f.Get("service") == "" || f.Get("client_id") == "" || r.authorization != "" {
						t.Errorf("POST form %v (Authorization header sent: %v): want the password grant with scope %q, a service and a client_id, no header", redactForm(f), r.authorization != "", scope)
					}
				case http.MethodGet:
					wantAuth := ""
					if tt.cred != nil {
						wantAuth = "Basic " + dockercfg.EncodeAuth(tt.cred.Username, tt.cred.Password)
					}
					if r.authorization != wantAuth || r.query.Get("scope") != scope || r.query.Get("service") == "" {
						t.Errorf("GET query %v, Basic auth sent %v: want scope %q, a service, Basic auth %v", r.query, r.authorization != "", scope, wantAuth != "")
					}
				}
			}
		})
	}
}

func redactForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		if k == "password" {
			v = []string{"REDACTED"}
		}
		out[k] = v
	}
	return out
}

// TestEveryChallengeHeader: a registry that answers with several WWW-Authenticate
// headers, one of them Bearer, is answered with a token whatever the headers' order,
// as containerd does. The front is a reverse proxy to a real token registry that adds
// a Basic challenge header to every 401.
func TestEveryChallengeHeader(t *testing.T) {
	reg := startRegistry(t, registry.Options{Auth: registry.AuthToken, Users: map[string]string{"alice": alicePass}, Pull: map[string][]string{"alice": {"team/*"}}}, "team/app:v1")
	for _, tt := range []struct {
		name        string
		basicBefore bool
	}{{"Basic header first", true}, {"Basic header last", false}} {
		t.Run(tt.name, func(t *testing.T) {
			proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg.Host})
			proxy.ModifyResponse = func(resp *http.Response) error {
				if resp.StatusCode == http.StatusUnauthorized {
					bearer := resp.Header.Values("WWW-Authenticate")
					resp.Header.Del("WWW-Authenticate")
					if tt.basicBefore {
						resp.Header.Add("WWW-Authenticate", `Basic realm="front"`)
					}
					for _, b := range bearer {
						resp.Header.Add("WWW-Authenticate", b)
					}
					if !tt.basicBefore {
						resp.Header.Add("WWW-Authenticate", `Basic realm="front"`)
					}
				}
				return nil
			}
			front := httptest.NewServer(proxy)
			defer front.Close()
			var c verify.Checker
			image := strings.TrimPrefix(front.URL, "http://") + "/team/app:v1"
			got, err := c.Check(context.Background(), image, cred("alice", alicePass), false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != verify.OK {
				t.Errorf("Check(%s) = %s (%s), want OK through the Bearer challenge", image, got.Outcome, got.Detail)
			}
		})
	}
}

func newPool() *x509.CertPool { return x509.NewCertPool() }
