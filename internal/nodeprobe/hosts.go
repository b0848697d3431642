package nodeprobe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/log"
	"github.com/sirupsen/logrus"

	"github.com/regcred/regcred/internal/verify"
)

// Endpoint is one registry host containerd would contact for a host namespace, in
// the order it would try them, and what a ping of it got.
type Endpoint struct {
	// URL is the API root asked (scheme, host and path: /v2/, or the path of a
	// hosts.toml server with override_path).
	URL          string        `json:"url"`
	Capabilities []string      `json:"capabilities"`
	Resolved     []string      `json:"resolved,omitempty"`
	Result       verify.Result `json:"result"`
}

// Probe is the node side of a probe (`kubectl regcred probe-registry`): it reads the
// runtime's registry configuration for host exactly as containerd's CRI plugin does
// (containerd's own core/remotes/docker/config: certs.d/HOST/hosts.toml or
// certs.d/_default, its servers, mirrors, CAs, client certificates, skip_verify,
// headers, or Docker's *.crt/*.cert/*.key layout), and pings the /v2/ API root of each
// endpoint that can resolve or pull, without credentials, in containerd's order until
// one that resolves tags answers. host is the registry as an
// image names it: docker.io for Docker Hub, whose endpoint containerd makes
// registry-1.docker.io.
func Probe(ctx context.Context, host, certsDir string, timeout time.Duration) Report {
	if host == "index.docker.io" {
		host = "docker.io" // image references normalize it so
	}
	r := Report{Host: host}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	hostDir := config.HostDirFromRoot(certsDir)
	if dir, err := hostDir(host); err == nil {
		r.HostsDir = dir
	}
	logs := &logCapture{}
	hosts, err := config.ConfigureHosts(log.WithLogger(ctx, logs.entry()), config.HostOptions{HostDir: hostDir})(host)
	r.Notes = logs.lines()
	if err != nil {
		r.Result = verify.Result{Registry: host, Outcome: verify.RegistryTLSError, TLSProblem: "node configuration",
			Detail: fmt.Sprintf("containerd cannot configure %s from %s: %v", host, describeDir(r.HostsDir), err)}
		return r
	}
	var chosen *Endpoint
	for _, h := range hosts {
		if h.Capabilities&(docker.HostCapabilityResolve|docker.HostCapabilityPull) == 0 {
			continue
		}
		r.Endpoints = append(r.Endpoints, probeEndpoint(ctx, h))
		e := &r.Endpoints[len(r.Endpoints)-1]
		if h.Capabilities&docker.HostCapabilityResolve == 0 {
			continue
		}
		// containerd resolves a tag on the first resolve host that answers, and
		// reports the first failure when none does; it asks no further host.
		if chosen == nil || e.Result.Outcome == verify.OK {
			chosen = e
		}
		if e.Result.Outcome == verify.OK {
			break
		}
	}
	if chosen == nil {
		r.Result = verify.Result{Registry: host, Outcome: verify.RegistryError,
			Detail: fmt.Sprintf("%s names no host with the pull and resolve capabilities for %s: containerd cannot resolve a tag", describeDir(r.HostsDir), host)}
		return r
	}
	r.Resolved = chosen.Resolved
	r.Result = chosen.Result
	if len(r.Endpoints) > 1 {
		r.Result.Detail += fmt.Sprintf(" (%s, endpoint %d of %d containerd tries)", chosen.URL, indexOf(r.Endpoints, chosen)+1, len(r.Endpoints))
	}
	for _, n := range r.Notes {
		r.Result.Detail += "; containerd: " + n
	}
	return r
}

// probeEndpoint pings one endpoint with the HTTP client containerd built for it: its
// TLS settings, and its fallback to plain HTTP when a TLS-configured host says http.
func probeEndpoint(ctx context.Context, h docker.RegistryHost) Endpoint {
	base := h.Scheme + "://" + h.Host + strings.TrimSuffix(h.Path, "/") + "/"
	e := Endpoint{URL: base, Capabilities: capabilities(h.Capabilities)}
	hostname := h.Host
	if hn, _, err := net.SplitHostPort(h.Host); err == nil {
		hostname = hn
	}
	if addrs, err := net.DefaultResolver.LookupHost(ctx, hostname); err == nil {
		e.Resolved = addrs
	}
	rt := &endpointTransport{base: h.Client.Transport, scheme: h.Scheme, host: h.Host, path: base, header: h.Header}
	// PlainHTTPNever: whether plain HTTP is spoken is the endpoint's scheme and
	// containerd's fallback, both in rt; a plain-HTTP answer to HTTPS is refused.
	checker := &verify.Checker{Timeout: 10 * time.Second, PlainHTTP: verify.PlainHTTPNever, Transport: rt}
	e.Result = checker.Ping(ctx, h.Host)
	if e.Result.Outcome == verify.OK {
		status, used := rt.answered()
		e.Result.Scheme, _, _ = strings.Cut(used, "://")
		e.Result.Detail = fmt.Sprintf("GET %s answered %d", used, status)
	}
	if e.Result.Outcome == verify.RegistryUnreachable && len(e.Resolved) == 0 {
		e.Result.Detail += fmt.Sprintf(" (the node could not resolve %s)", hostname)
	}
	return e
}

// endpointTransport sends the checker's GET https://HOST/v2/ to the endpoint's own
// scheme, host and path, with its headers, through containerd's transport for it.
type endpointTransport struct {
	base               http.RoundTripper
	scheme, host, path string
	header             http.Header
	mu                 sync.Mutex
	status             int
	url                string
}

func (t *endpointTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" && req.URL.Host == t.host && req.URL.Path == "/v2/" {
		req = req.Clone(req.Context())
		u, err := req.URL.Parse(t.path)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", t.path, err)
		}
		req.URL, req.Host = u, u.Host
		for k, v := range t.header {
			if req.Header.Get(k) == "" {
				req.Header[k] = v
			}
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		t.mu.Lock()
		t.status, t.url = resp.StatusCode, req.URL.String()
		if resp.Request != nil {
			t.url = resp.Request.URL.String()
		}
		t.mu.Unlock()
	}
	return resp, err
}

// answered is the status and URL of the last answer.
func (t *endpointTransport) answered() (int, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.url
}

func capabilities(c docker.HostCapabilities) []string {
	var out []string
	for _, n := range []struct {
		c    docker.HostCapabilities
		name string
	}{{docker.HostCapabilityPull, "pull"}, {docker.HostCapabilityResolve, "resolve"}, {docker.HostCapabilityPush, "push"}, {docker.HostCapabilityReferrers, "referrers"}} {
		if c&n.c != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func indexOf(es []Endpoint, e *Endpoint) int {
	for i := range es {
		if &es[i] == e {
			return i
		}
	}
	return -1
}

func describeDir(dir string) string {
	if dir == "" {
		return "containerd's defaults (no host folder)"
	}
	return dir
}

// logCapture keeps what containerd logs while it reads a host folder at Info level
// and above: that it ignored a hosts.toml it could not decode, or that it tries
// HTTPS first for an http server with TLS settings.
type logCapture struct {
	mu    sync.Mutex
	notes []string
}

func (c *logCapture) entry() *log.Entry {
	l := logrus.New()
	l.SetLevel(logrus.InfoLevel)
	l.SetOutput(io.Discard)
	l.AddHook(c)
	return logrus.NewEntry(l)
}

func (c *logCapture) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel, logrus.InfoLevel}
}

func (c *logCapture) Fire(e *logrus.Entry) error {
	msg := e.Message
	if err, ok := e.Data[logrus.ErrorKey].(error); ok {
		msg += ": " + err.Error()
	}
	c.mu.Lock()
	c.notes = append(c.notes, msg)
	c.mu.Unlock()
	return nil
}

func (c *logCapture) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.notes...)
}
