package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
)

// fixtures are real distribution registries shared by the tests of this file.
type fixtures struct {
	basic, token, tls, mismatch, expired, open *registry.Registry
}

const (
	alicePass = "alice-password-1234"
	bobPass   = "bob-password-5678"
)

func startFixtures(t *testing.T) *fixtures {
	t.Helper()
	ctx := context.Background()
	users := map[string]string{"alice": alicePass, "bob": bobPass}
	start := func(o registry.Options) *registry.Registry {
		r, err := registry.Start(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	f := &fixtures{
		basic:    start(registry.Options{Auth: registry.AuthBasic, Users: users}),
		token:    start(registry.Options{Auth: registry.AuthToken, Users: users, Pull: map[string][]string{"alice": {"team/*"}}, Public: []string{"public/*"}}),
		tls:      start(registry.Options{TLS: true}),
		mismatch: start(registry.Options{TLS: true, CertHosts: []string{"registry.example.test"}}),
		expired:  start(registry.Options{TLS: true, ExpiredCert: true}),
		open:     start(registry.Options{}),
	}
	img, err := images.Pause(ctx, "verify")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		r    *registry.Registry
		repo string
	}{{f.basic, "team/app:v1"}, {f.token, "team/app:v1"}, {f.token, "public/base:v1"}, {f.tls, "team/app:v1"}, {f.open, "team/app:v1"}} {
		if _, err := p.r.Push(ctx, p.repo, img); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func cred(user, pass string) *dockercfg.Credential {
	return &dockercfg.Credential{Username: user, Password: pass}
}

func TestCheck(t *testing.T) {
	f := startFixtures(t)
	alice, bob := cred("alice", alicePass), cred("bob", bobPass)
	wrong := cred("alice", "wrong-password-0000")
	tests := []struct {
		name       string
		checker    verify.Checker
		image      string
		cred       *dockercfg.Credential
		want       verify.Outcome
		detail     string // substring of Detail
		ambiguous  bool
		tlsProblem string
		scheme     string
	}{
		{name: "basic: right password", image: f.basic.Ref("team/app:v1"), cred: alice, want: verify.OK, scheme: "http"},
		{name: "basic: wrong password", image: f.basic.Ref("team/app:v1"), cred: wrong, want: verify.CredentialRejected, detail: `refused user "alice"`},
		{name: "basic: anonymous", image: f.basic.Ref("team/app:v1"), want: verify.AuthRequired},
		{name: "basic: missing tag", image: f.basic.Ref("team/app:v2"), cred: alice, want: verify.ImageNotFound, detail: "has no v2 in team/app"},
		{name: "token: user with pull right", image: f.token.Ref("team/app:v1"), cred: alice, want: verify.OK},
		{name: "token: valid user without pull right", image: f.token.Ref("team/app:v1"), cred: bob, want: verify.AccessDenied, ambiguous: true, detail: "registries do not say which"},
		{name: "token: wrong password", image: f.token.Ref("team/app:v1"), cred: wrong, want: verify.CredentialRejected, detail: "token server"},
		{name: "token: missing tag", image: f.token.Ref("team/app:v2"), cred: alice, want: verify.ImageNotFound},
		{name: "token: missing repository with rights", image: f.token.Ref("team/nothing:v1"), cred: alice, want: verify.ImageNotFound, detail: "no v1 in team/nothing"},
		{name: "token: public image anonymously", image: f.token.Ref("public/base:v1"), want: verify.OK},
		{name: "token: private image anonymously", image: f.token.Ref("team/app:v1"), want: verify.AuthRequired},
		{name: "token: by digest", image: f.token.Ref("team/app@sha256:" + strings.Repeat("0", 64)), cred: alice, want: verify.ImageNotFound},
		{name: "tls: untrusted CA", image: f.tls.Ref("team/app:v1"), want: verify.RegistryTLSError, tlsProblem: "unknown authority"},
		{name: "tls: trusted CA", checker: verify.Checker{RootCAs: f.tls.CertPool()}, image: f.tls.Ref("team/app:v1"), want: verify.OK, scheme: "https"},
		{name: "tls: name mismatch", checker: verify.Checker{RootCAs: f.mismatch.CertPool()}, image: f.mismatch.Ref("team/app:v1"), want: verify.RegistryTLSError, tlsProblem: "name mismatch", detail: "127.0.0.1"},
		{name: "tls: expired", checker: verify.Checker{RootCAs: f.expired.CertPool()}, image: f.expired.Ref("team/app:v1"), want: verify.RegistryTLSError, tlsProblem: "expired", detail: "expired"},
		{name: "plain HTTP refused when not allowed", checker: verify.Checker{PlainHTTP: verify.PlainHTTPNever}, image: f.open.Ref("team/app:v1"), want: verify.RegistryHTTPOnly},
		{name: "plain HTTP on loopback", image: f.open.Ref("team/app:v1"), want: verify.OK, scheme: "http"},
		{name: "open registry ignores credentials", image: f.open.Ref("team/app:v1"), cred: wrong, want: verify.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.checker.Check(context.Background(), tt.image, tt.cred, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.want {
				t.Fatalf("Check(%s) = %s (%s), want %s", tt.image, got.Outcome, got.Detail, tt.want)
			}
			if !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("Check(%s) detail = %q, want it to contain %q", tt.image, got.Detail, tt.detail)
			}
			if got.Ambiguous != tt.ambiguous || got.TLSProblem != tt.tlsProblem {
				t.Errorf("Check(%s) ambiguous, tlsProblem = %v, %q, want %v, %q", tt.image, got.Ambiguous, got.TLSProblem, tt.ambiguous, tt.tlsProblem)
			}
			if tt.scheme != "" && got.Scheme != tt.scheme {
				t.Errorf("Check(%s) scheme = %q, want %q", tt.image, got.Scheme, tt.scheme)
			}
			b, _ := json.Marshal(got)
			for _, secret := range []string{alicePass, bobPass, "wrong-password-0000"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("Check(%s) result carries a password: %s", tt.image, b)
				}
			}
		})
	}
}

func TestCheckAnonymous(t *testing.T) {
	f := startFixtures(t)
	tests := []struct {
		name                string
		image               string
		cred                *dockercfg.Credential
		want, wantAnonymous verify.Outcome
	}{
		{"private repository, user without the right", f.token.Ref("team/app:v1"), cred("bob", bobPass), verify.AccessDenied, verify.AuthRequired},
		{"public repository, wrong password", f.token.Ref("public/base:v1"), cred("bob", "wrong-password-0000"), verify.CredentialRejected, verify.OK},
		{"public repository, valid user", f.token.Ref("public/base:v1"), cred("alice", alicePass), verify.OK, verify.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c verify.Checker
			got, err := c.Check(context.Background(), tt.image, tt.cred, true)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.want || got.Anonymous == nil || got.Anonymous.Outcome != tt.wantAnonymous {
				t.Errorf("Check(%s) = %s, anonymous %+v; want %s, anonymous %s", tt.image, got.Outcome, got.Anonymous, tt.want, tt.wantAnonymous)
			}
		})
	}
}

func TestCheckUnreachable(t *testing.T) {
	refusedAddr := refusedAddr(t)
	silent := startSilent(t)

	tests := []struct {
		name, image, detail string
	}{
		{"connection refused", refusedAddr + "/team/app:v1", "connection refused"},
		{"no answer", silent.Host + "/team/app:v1", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := verify.Checker{Timeout: 300 * time.Millisecond}
			start := time.Now()
			got, err := c.Check(context.Background(), tt.image, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != verify.RegistryUnreachable || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("Check(%s) = %s (%s), want RegistryUnreachable with %q", tt.image, got.Outcome, got.Detail, tt.detail)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Check(%s) took %s: the timeout did not hold", tt.image, d)
			}
		})
	}
}

// TestCheckRateLimited uses a stand-in server: the distribution registry cannot rate limit.
func TestCheckRateLimited(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.WriteHeader(http.StatusTooManyRequests)
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}`))
		}
	}))
	defer srv.Close()
	var c verify.Checker
	got, err := c.Check(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/library/nginx:1", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != verify.RateLimited || !strings.Contains(got.Detail, "pull rate limit") {
		t.Errorf("Check = %s (%s), want RateLimited with the registry's message", got.Outcome, got.Detail)
	}
}

func TestCheckInvalidImage(t *testing.T) {
	var c verify.Checker
	for _, image := range []string{"", "UPPER/Case:tag:x", "reg.example.com/app@sha256:short"} {
		if _, err := c.Check(context.Background(), image, nil, false); !errors.Is(err, keyring.ErrInvalidImage) {
			t.Errorf("Check(%q) error = %v, want ErrInvalidImage", image, err)
		}
	}
}

func TestLogin(t *testing.T) {
	f := startFixtures(t)
	tests := []struct {
		name    string
		checker verify.Checker
		host    string
		cred    dockercfg.Credential
		want    verify.Outcome
	}{
		{"basic: accepted", verify.Checker{}, f.basic.Host, *cred("alice", alicePass), verify.OK},
		{"basic: rejected", verify.Checker{}, f.basic.Host, *cred("alice", "wrong-password-0000"), verify.CredentialRejected},
		{"token: accepted without pull rights", verify.Checker{}, f.token.Host, *cred("bob", bobPass), verify.OK},
		{"token: rejected", verify.Checker{}, f.token.Host, *cred("bob", "wrong-password-0000"), verify.CredentialRejected},
		{"tls: untrusted", verify.Checker{}, f.tls.Host, *cred("alice", alicePass), verify.RegistryTLSError},
		{"open registry", verify.Checker{}, f.open.Host, *cred("alice", alicePass), verify.OK},
		{"empty credential", verify.Checker{}, f.token.Host, dockercfg.Credential{}, verify.CredentialRejected},
		{"no password", verify.Checker{}, f.basic.Host, dockercfg.Credential{Username: "alice"}, verify.CredentialRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.checker.Login(context.Background(), tt.host, tt.cred)
			if got.Outcome != tt.want {
				t.Errorf("Login(%s) = %s (%s), want %s", tt.host, got.Outcome, got.Detail, tt.want)
			}
		})
	}
}

// TestCheckRepositoryChallenge uses a stand-in server: /v2/ open, the repository
// behind Basic auth (some registries do this; the distribution registry cannot).
func TestCheckRepositoryChallenge(t *testing.T) {
	want := "Basic " + dockercfg.EncodeAuth("alice", alicePass)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" && r.Header.Get("Authorization") == "" {
			return
		}
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="repo"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	image := strings.TrimPrefix(srv.URL, "http://") + "/team/app:v1"
	tests := []struct {
		name string
		cred *dockercfg.Credential
		want verify.Outcome
	}{
		{"right password", cred("alice", alicePass), verify.OK},
		{"wrong password", cred("alice", "wrong-password-0000"), verify.CredentialRejected},
		{"anonymous", nil, verify.AuthRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c verify.Checker
			got, err := c.Check(context.Background(), image, tt.cred, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.want {
				t.Errorf("Check = %s (%s), want %s", got.Outcome, got.Detail, tt.want)
			}
		})
	}
}
