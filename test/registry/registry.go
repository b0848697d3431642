package registry

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	"github.com/regcred/regcred/test/pki"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Auth is how a registry authenticates pulls and pushes.
type Auth int

const (
	// AuthNone lets anyone pull and push.
	AuthNone Auth = iota
	// AuthBasic is htpasswd Basic auth: every listed user may pull and push everything.
	AuthBasic
	// AuthToken is Bearer token auth with the token server on the same port.
	AuthToken
)

func (a Auth) String() string {
	switch a {
	case AuthBasic:
		return "basic"
	case AuthToken:
		return "token"
	default:
		return "none"
	}
}

// Options says what kind of registry to start.
type Options struct {
	Auth Auth
	// Users are the accounts for Basic and token auth: user name to password.
	Users map[string]string
	// Pull maps a user to the repositories (path.Match patterns) the token server lets
	// it pull. Token auth only.
	Pull map[string][]string
	// Public lists repositories (path.Match patterns) anyone may pull. Token auth only.
	Public []string
	// TLS serves HTTPS with a certificate from the registry's own CA.
	TLS bool
	// Addr is where to listen; 127.0.0.1 on a free port when empty.
	Addr string
	// CertHosts are the names the serving certificate is for; the listen address's
	// host when empty. Naming another host produces name-mismatch errors.
	CertHosts []string
	// ExpiredCert serves a certificate that expired an hour ago.
	ExpiredCert bool
	// TokenRealm, for token auth, is the realm the registry names in its challenges
	// instead of its own /token, to put another server (a recorder, a proxy) in the
	// token exchange; the registry's own token server still answers at /token.
	TokenRealm string
}

// Registry is a running registry.
type Registry struct {
	// Host is HOST:PORT as it appears in image references.
	Host string
	// Scheme is http or https.
	Scheme string
	// CAPEM is the PEM certificate of the CA that signed the serving certificate (TLS only).
	CAPEM []byte
	// Auth is how the registry authenticates.
	Auth Auth

	adminUser, adminPass string
	tokenRealm           string // Options.TokenRealm
	dir                  string
	users                map[string]string // Basic auth: every account, admin included
	srv                  *http.Server
	app                  *handlers.App
	done                 chan error
}

var quietLogs sync.Once

// Start starts a registry and returns when it accepts connections.
func Start(ctx context.Context, opts Options) (_ *Registry, err error) {
	quietLogs.Do(func() {
		// distribution logs through logrus' standard logger; the fixtures keep it quiet.
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.ErrorLevel)
	})
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start registry: listen on %s: %w", addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	r := &Registry{Host: ln.Addr().String(), Scheme: "http", Auth: opts.Auth, tokenRealm: opts.TokenRealm, done: make(chan error, 1)}
	r.dir, err = os.MkdirTemp("", "regcred-registry-")
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(r.dir)
		}
	}()

	var tlsConfig *tls.Config
	if opts.TLS {
		hosts := opts.CertHosts
		if len(hosts) == 0 {
			h, _, _ := net.SplitHostPort(r.Host)
			hosts = []string{h}
		}
		ca, err := pki.NewCA("regcred test registry CA")
		if err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		issue := ca.Serving
		if opts.ExpiredCert {
			issue = ca.ExpiredServing
		}
		serving, err := issue(hosts...)
		if err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		r.Scheme, r.CAPEM = "https", ca.PEM
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{serving}, MinVersion: tls.VersionTLS12}
	}

	users := maps.Clone(opts.Users)
	if users == nil {
		users = map[string]string{}
	}
	if opts.Auth != AuthNone {
		// An account of the fixture's own, for pushing test images.
		r.adminUser, r.adminPass = "regcred-fixture-admin", randomHex(16)
		users[r.adminUser] = r.adminPass
	}

	config := &configuration.Configuration{
		Storage: configuration.Storage{"inmemory": configuration.Parameters{}, "delete": configuration.Parameters{"enabled": true}},
	}
	config.Log.AccessLog.Disabled = true
	config.HTTP.Secret = randomHex(16)

	mux := http.NewServeMux()
	switch opts.Auth {
	case AuthBasic:
		htpasswd := filepath.Join(r.dir, "htpasswd")
		r.users = maps.Clone(users)
		if err := writeHtpasswd(htpasswd, users); err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		config.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "regcred-test-registry", "path": htpasswd}}
	case AuthToken:
		ts, err := newTokenServer(users, opts.Pull, opts.Public, r.adminUser)
		if err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		jwks, err := ts.jwks()
		if err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		jwksPath := filepath.Join(r.dir, "jwks.json")
		if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
		config.Auth = configuration.Auth{"token": configuration.Parameters{
			"realm":             cmp.Or(opts.TokenRealm, r.Scheme+"://"+r.Host+tokenPath),
			"service":           tokenService,
			"issuer":            tokenIssuer,
			"jwks":              jwksPath,
			"signingalgorithms": []any{string("ES256")},
		}}
		mux.Handle(tokenPath, ts)
	}
	r.app = handlers.NewApp(context.WithoutCancel(ctx), config)
	mux.Handle("/", r.app)
	r.srv = &http.Server{Handler: mux, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second,
		// TLS clients that distrust the CA are part of the tests: no log line for them.
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() {
		if tlsConfig != nil {
			r.done <- r.srv.ServeTLS(ln, "", "")
		} else {
			r.done <- r.srv.Serve(ln)
		}
	}()
	return r, nil
}

// Close stops the registry and removes its files.
func (r *Registry) Close() error {
	err := r.srv.Close()
	if serveErr := <-r.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	err = errors.Join(err, r.app.Shutdown(), os.RemoveAll(r.dir))
	if err != nil {
		return fmt.Errorf("stop registry %s: %w", r.Host, err)
	}
	return nil
}

// Ref returns the image reference of a repository (and tag or digest) on this registry.
func (r *Registry) Ref(repository string) string { return r.Host + "/" + repository }

// CertPool returns a pool with the registry's CA (TLS only), or nil.
func (r *Registry) CertPool() *x509.CertPool {
	if r.CAPEM == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.CAPEM)
	return pool
}

// SetPassword changes a Basic auth user's password; the registry reads its htpasswd
// file again on the next request, so the old password stops working at once.
func (r *Registry) SetPassword(user, password string) error {
	if r.Auth != AuthBasic {
		return fmt.Errorf("set password: registry %s does not use Basic auth", r.Host)
	}
	return r.setUser(user, password, true)
}

func writeHtpasswd(path string, users map[string]string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write htpasswd: %w", err)
	}
	for user, pass := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			f.Close()
			return fmt.Errorf("hash password of %s: %w", user, err)
		}
		fmt.Fprintf(f, "%s:%s\n", user, hash)
	}
	return f.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}
