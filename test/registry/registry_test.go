package registry_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
)

func start(t *testing.T, opts registry.Options) *registry.Registry {
	t.Helper()
	r, err := registry.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func push(t testing.TB, r *registry.Registry, repoTag string) {
	t.Helper()
	img, err := images.Pause(context.Background(), repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Push(context.Background(), repoTag, img); err != nil {
		t.Fatal(err)
	}
}

// head fetches a manifest the way a runtime does and returns the registry's error.
func head(t testing.TB, r *registry.Registry, repoTag string, auth authn.Authenticator, trust bool) error {
	t.Helper()
	var opts []name.Option
	if r.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(r.Ref(repoTag), opts...)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if trust {
		tr.TLSClientConfig = &tls.Config{RootCAs: r.CertPool()}
	}
	_, err = remote.Head(ref, remote.WithAuth(auth), remote.WithTransport(tr), remote.WithContext(context.Background()))
	return err
}

func failedPath(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && te.Request != nil {
		return te.Request.URL.Path
	}
	return ""
}

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

func TestBasicAuth(t *testing.T) {
	r := start(t, registry.Options{Auth: registry.AuthBasic, Users: map[string]string{"alice": "s3cret"}})
	push(t, r, "team/app:v1")
	tests := []struct {
		name       string
		repoTag    string
		auth       authn.Authenticator
		wantStatus int
	}{
		{"right password", "team/app:v1", &authn.Basic{Username: "alice", Password: "s3cret"}, 0},
		{"wrong password", "team/app:v1", &authn.Basic{Username: "alice", Password: "nope"}, http.StatusUnauthorized},
		{"anonymous", "team/app:v1", authn.Anonymous, http.StatusUnauthorized},
		{"missing tag", "team/app:v2", &authn.Basic{Username: "alice", Password: "s3cret"}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := head(t, r, tt.repoTag, tt.auth, false)
			if got := statusOf(err); got != tt.wantStatus || (tt.wantStatus == 0 && err != nil) {
				t.Errorf("HEAD %s = %v (status %d), want status %d", tt.repoTag, err, got, tt.wantStatus)
			}
		})
	}
}

func TestTokenAuth(t *testing.T) {
	r := start(t, registry.Options{
		Auth:   registry.AuthToken,
		Users:  map[string]string{"alice": "s3cret", "bob": "hunter2"},
		Pull:   map[string][]string{"alice": {"team/*"}},
		Public: []string{"public/*"},
	})
	push(t, r, "team/app:v1")
	push(t, r, "public/base:v1")
	alice := &authn.Basic{Username: "alice", Password: "s3cret"}
	tests := []struct {
		name       string
		repoTag    string
		auth       authn.Authenticator
		wantStatus int
	}{
		{"user with pull right", "team/app:v1", alice, 0},
		{"valid user without pull right", "team/app:v1", &authn.Basic{Username: "bob", Password: "hunter2"}, http.StatusUnauthorized},
		{"wrong password", "team/app:v1", &authn.Basic{Username: "alice", Password: "nope"}, http.StatusUnauthorized},
		{"anonymous on private", "team/app:v1", authn.Anonymous, http.StatusUnauthorized},
		{"anonymous on public", "public/base:v1", authn.Anonymous, 0},
		{"missing tag", "team/app:v2", alice, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := head(t, r, tt.repoTag, tt.auth, false)
			if got := statusOf(err); got != tt.wantStatus || (tt.wantStatus == 0 && err != nil) {
				t.Errorf("HEAD %s = %v (status %d), want status %d", tt.repoTag, err, got, tt.wantStatus)
			}
		})
	}
	// Bad credentials fail at the token server, no access fails at the registry with a
	// token that lacks the right: the distinction the verifier must draw.
	t.Run("failure points differ", func(t *testing.T) {
		bad := head(t, r, "team/app:v1", &authn.Basic{Username: "alice", Password: "nope"}, false)
		denied := head(t, r, "team/app:v1", &authn.Basic{Username: "bob", Password: "hunter2"}, false)
		if got := failedPath(bad); got != "/token" {
			t.Errorf("bad password failed at %q (%v), want the token server", got, bad)
		}
		if got := failedPath(denied); got != "/v2/team/app/manifests/v1" {
			t.Errorf("no access failed at %q (%v), want the manifest request", got, denied)
		}
	})
}

func TestTLS(t *testing.T) {
	r := start(t, registry.Options{TLS: true})
	if r.Scheme != "https" {
		t.Fatalf("Scheme = %q, want https", r.Scheme)
	}
	push(t, r, "team/app:v1")
	if err := head(t, r, "team/app:v1", authn.Anonymous, true); err != nil {
		t.Errorf("HEAD with the registry's CA trusted = %v, want success", err)
	}
	err := head(t, r, "team/app:v1", authn.Anonymous, false)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("HEAD without the CA = %v, want x509 unknown authority", err)
	}
}

// TestTokenOAuthPost covers the OAuth2 password grant that containerd sends before
// falling back to GET with Basic auth.
func TestTokenOAuthPost(t *testing.T) {
	r := start(t, registry.Options{Auth: registry.AuthToken, Users: map[string]string{"alice": "s3cret"}, Pull: map[string][]string{"alice": {"team/*"}}})
	post := func(user, pass string) (int, string) {
		form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"repository:team/app:pull"}, "service": {"x"}}
		resp, err := http.PostForm("http://"+r.Host+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("alice", "s3cret"); code != http.StatusOK || !strings.Contains(body, "access_token") {
		t.Errorf("POST with the right password = %d %s, want 200 with a token", code, body)
	}
	if code, _ := post("alice", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("POST with a wrong password = %d, want 401", code)
	}
}
