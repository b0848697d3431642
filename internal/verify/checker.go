package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"

	"github.com/regcred/regcred/internal/dockercfg"
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
	// Hosts, when set, remembers the hosts found unreachable: share one between the
	// checks of a run so that a dead registry costs one time-out, not one per image.
	Hosts *Hosts
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
