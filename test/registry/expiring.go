package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Issuer hands out short-lived Basic auth credentials of a registry: every POST to
// its URL adds a new user with a random password to the registry's htpasswd, and
// removes that user when its lifetime is over, so that the registry really refuses the
// credential from then on. It stands for the token services of cloud registries (ECR,
// Artifact Registry, ACR) behind their credential provider plugins.
type Issuer struct {
	// URL is where to POST; the answer is {"username", "password", "expiresInSeconds"}.
	URL string

	r        *Registry
	lifetime time.Duration
	srv      *http.Server
	ln       net.Listener

	mu     sync.Mutex
	issued int
	timers []*time.Timer
}

// htpasswdMu orders the issuers' rewrites of a registry's htpasswd.
var htpasswdMu sync.Mutex

// StartIssuer starts an issuer of credentials that live for lifetime, listening on
// addr (127.0.0.1 on a free port when empty). The registry must use Basic auth.
func (r *Registry) StartIssuer(addr string, lifetime time.Duration) (*Issuer, error) {
	if r.Auth != AuthBasic {
		return nil, fmt.Errorf("start issuer: registry %s does not use Basic auth", r.Host)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start issuer: listen on %s: %w", addr, err)
	}
	is := &Issuer{r: r, lifetime: lifetime, ln: ln, URL: "http://" + ln.Addr().String() + "/token"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", is.serve)
	is.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

func (is *Issuer) serve(w http.ResponseWriter, _ *http.Request) {
	user, pass, err := is.Issue()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"username": user, "password": pass, "expiresInSeconds": int(is.lifetime.Seconds())})
}

// Issue adds a new user valid for the issuer's lifetime and returns its credential.
func (is *Issuer) Issue() (user, password string, err error) {
	is.mu.Lock()
	is.issued++
	user = fmt.Sprintf("token-%d-%s", is.issued, randomHex(4))
	is.mu.Unlock()
	password = randomHex(16)
	if err := is.r.setUser(user, password, true); err != nil {
		return "", "", fmt.Errorf("issue a credential: %w", err)
	}
	t := time.AfterFunc(is.lifetime, func() { _ = is.r.setUser(user, "", false) })
	is.mu.Lock()
	is.timers = append(is.timers, t)
	is.mu.Unlock()
	return user, password, nil
}

// Issued returns how many credentials the issuer has handed out.
func (is *Issuer) Issued() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.issued
}

// Close stops the issuer; the users it added expire no more.
func (is *Issuer) Close() error {
	is.mu.Lock()
	for _, t := range is.timers {
		t.Stop()
	}
	is.mu.Unlock()
	if err := is.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setUser adds (or, with add false, removes) a Basic auth user and rewrites the
// htpasswd file, which the registry reads again on its next request.
func (r *Registry) setUser(user, password string, add bool) error {
	htpasswdMu.Lock()
	defer htpasswdMu.Unlock()
	if add {
		r.users[user] = password
	} else {
		delete(r.users, user)
	}
	path := filepath.Join(r.dir, "htpasswd")
	if err := writeHtpasswd(path+".new", r.users); err != nil {
		return err
	}
	// A modification time later than the file it replaces, however fast this runs.
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(path+".new", later, later); err != nil {
		return fmt.Errorf("set user: %w", err)
	}
	return os.Rename(path+".new", path)
}
