package nodeprobe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regcred/regcred/internal/nodeprobe"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/pki"
	"github.com/regcred/regcred/test/registry"
)

// server is a registry API root on a loopback listener that records what it was asked.
type server struct {
	host string // 127.0.0.1:PORT
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Write([]byte("{}"))
}

func (s *server) last(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatalf("%s was never asked", s.host)
	}
	return s.reqs[len(s.reqs)-1]
}

// serve starts s over TLS with cert (plain HTTP when cert is nil), asking for a
// client certificate signed by clientCA when it is set.
func serve(t *testing.T, cert *tls.Certificate, clientCA *pki.CA) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{host: ln.Addr().String()}
	srv := &http.Server{Handler: s, ErrorLog: nil}
	if cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*cert}}
		if clientCA != nil {
			pool := x509.NewCertPool()
			pool.AddCert(clientCA.Cert)
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		ln = tls.NewListener(ln, cfg)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// files is a certs.d tree: path (relative to certs.d) to content; "{x}" in paths and
// contents are replaced from vars, "{root}" by the tree's folder.
type files map[string]string

func (f files) write(t *testing.T, vars map[string]string) string {
	t.Helper()
	root := t.TempDir()
	all := map[string]string{"root": root}
	for k, v := range vars {
		all[k] = v
	}
	for p, content := range f {
		for k, v := range all {
			content = strings.ReplaceAll(content, "{"+k+"}", v)
			p = strings.ReplaceAll(p, "{"+k+"}", v)
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func pemOf(t *testing.T, c tls.Certificate) (cert, key string) {
	t.Helper()
	dir := t.TempDir()
	if err := pki.WriteKeyPair(c, filepath.Join(dir, "c"), filepath.Join(dir, "k")); err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile(filepath.Join(dir, "c"))
	kb, _ := os.ReadFile(filepath.Join(dir, "k"))
	return string(cb), string(kb)
}

func newCA(t *testing.T, name string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// loopbackName is this machine's host name when it resolves to a loopback address:
// a registry name that containerd does not treat as localhost.
func loopbackName(t *testing.T) string {
	t.Helper()
	name, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	addrs, err := net.LookupHost(name)
	if err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() || name == "localhost" {
		t.Skipf("host name %q does not resolve to loopback (%v %v): no non-localhost name for a loopback registry", name, addrs, err)
	}
	return name
}

// TestProbeHostsConfig: probe-registry sees a registry as containerd's CRI plugin
// would, from the variants of its host configuration, against real TLS listeners.
// Every endpoint is on loopback: registry.test is only ever a folder name.
func TestProbeHostsConfig(t *testing.T) {
	ca, otherCA, clientCA := newCA(t, "registry CA"), newCA(t, "other CA"), newCA(t, "client CA")
	serving, err := ca.Serving("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := clientCA.Client("node")
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := serve(t, &serving, nil)
	mtlsSrv := serve(t, &serving, clientCA)
	plainSrv := serve(t, nil, nil)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadHost := dead.Addr().String()
	dead.Close() // nothing listens here: connection refused

	clientPEM, clientKey := pemOf(t, clientCert)
	vars := map[string]string{
		"tls": tlsSrv.host, "mtls": mtlsSrv.host, "plain": plainSrv.host, "dead": deadHost,
		"ca": string(ca.PEM), "otherca": string(otherCA.PEM), "clientcert": clientPEM, "clientkey": clientKey,
	}
	const ns = "registry.test" // the registry as images name it; the endpoints are in hosts.toml

	tests := []struct {
		name       string
		host       string // default ns
		tree       files
		want       verify.Outcome
		tlsProblem string
		scheme     string
		detail     string   // substring of the result's detail
		endpoints  []string // URLs of the endpoints, in order
		asked      *server  // the server that must have been asked
		askedPath  string
		askedHdr   [2]string
	}{
		{name: "server and ca in the root table", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nca = \"{root}/ca.pem\"\n",
			"ca.pem":                   "{ca}"}, want: verify.OK, scheme: "https", asked: tlsSrv, askedPath: "/v2/"},
		{name: "ca relative to the host folder", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nca = \"ca.pem\"\n",
			"registry.test/ca.pem":     "{ca}"}, want: verify.OK, asked: tlsSrv},
		{name: "ca as an array, the right CA second", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nca = [\"other.pem\", \"ca.pem\"]\n",
			"registry.test/other.pem":  "{otherca}",
			"registry.test/ca.pem":     "{ca}"}, want: verify.OK},
		{name: "ca of another authority", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nca = \"other.pem\"\n",
			"registry.test/other.pem":  "{otherca}"}, want: verify.RegistryTLSError, tlsProblem: "unknown authority"},
		{name: "no ca: the system trust store only", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\n"}, want: verify.RegistryTLSError, tlsProblem: "unknown authority"},
		{name: "ca in a host table applies to that host only", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\n\n[host.\"https://{dead}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"ca.pem\"\n",
			"registry.test/ca.pem":     "{ca}"}, want: verify.RegistryUnreachable, detail: "connection refused",
			endpoints: []string{"https://{dead}/v2/", "https://{tls}/v2/"}},
		{name: "skip_verify", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nskip_verify = true\n"}, want: verify.OK},
		{name: "skip_verify false keeps verification", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nskip_verify = false\n"}, want: verify.RegistryTLSError},
		{name: "client certificate and key in one file", tree: files{
			"registry.test/hosts.toml": "server = \"https://{mtls}\"\nca = \"ca.pem\"\nclient = \"client.pem\"\n",
			"registry.test/ca.pem":     "{ca}",
			"registry.test/client.pem": "{clientcert}{clientkey}"}, want: verify.OK, asked: mtlsSrv},
		{name: "client certificate and key as a pair", tree: files{
			"registry.test/hosts.toml":  "server = \"https://{mtls}\"\nca = \"ca.pem\"\nclient = [[\"client.cert\", \"client.key\"]]\n",
			"registry.test/ca.pem":      "{ca}",
			"registry.test/client.cert": "{clientcert}",
			"registry.test/client.key":  "{clientkey}"}, want: verify.OK},
		{name: "no client certificate for a registry that asks for one", tree: files{
			"registry.test/hosts.toml": "server = \"https://{mtls}\"\nca = \"ca.pem\"\n",
			"registry.test/ca.pem":     "{ca}"}, want: verify.RegistryTLSError},
		{name: "mirror tried first, then the server", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nca = \"ca.pem\"\n\n[host.\"https://{dead}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
			"registry.test/ca.pem":     "{ca}"}, want: verify.OK, detail: "endpoint 2 of 2",
			endpoints: []string{"https://{dead}/v2/", "https://{tls}/v2/"}},
		{name: "host tables in file order", tree: files{
			"registry.test/hosts.toml": "server = \"https://{dead}\"\n\n[host.\"http://{plain}\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n[host.\"https://{tls}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"},
			want: verify.OK, scheme: "http", asked: plainSrv, endpoints: []string{"http://{plain}/v2/"}},
		{name: "host tables in file order, the first failing", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\n\n[host.\"https://{dead}\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n[host.\"http://{plain}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"},
			want: verify.OK, scheme: "http", asked: plainSrv, detail: "endpoint 2 of 2", endpoints: []string{"https://{dead}/v2/", "http://{plain}/v2/"}},
		{name: "a pull-only mirror does not resolve tags", tree: files{
			"registry.test/hosts.toml": "server = \"https://{dead}\"\n\n[host.\"https://{tls}\"]\n  capabilities = [\"pull\"]\n  skip_verify = true\n"},
			want: verify.RegistryUnreachable, endpoints: []string{"https://{tls}/v2/", "https://{dead}/v2/"}},
		{name: "push-only hosts are not asked", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nskip_verify = true\n\n[host.\"https://{dead}\"]\n  capabilities = [\"push\"]\n"},
			want: verify.OK, endpoints: []string{"https://{tls}/v2/"}},
		{name: "no host that resolves", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\ncapabilities = [\"push\"]\n"},
			want: verify.RegistryError, detail: "no host"},
		{name: "path of a mirror gets /v2", tree: files{
			"registry.test/hosts.toml": "[host.\"https://{tls}/mirror\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"},
			want: verify.OK, asked: tlsSrv, askedPath: "/mirror/v2/"},
		{name: "override_path", tree: files{
			"registry.test/hosts.toml": "[host.\"https://{tls}/custom/api\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n  override_path = true\n"},
			want: verify.OK, asked: tlsSrv, askedPath: "/custom/api/", endpoints: []string{"https://{tls}/custom/api/"}},
		{name: "header", tree: files{
			"registry.test/hosts.toml": "[host.\"https://{tls}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n  [host.\"https://{tls}\".header]\n    X-Mirror-Token = \"node-1\"\n"},
			want: verify.OK, asked: tlsSrv, askedHdr: [2]string{"X-Mirror-Token", "node-1"}},
		{name: "plain-HTTP server", tree: files{
			"registry.test/hosts.toml": "server = \"http://{plain}\"\n"}, want: verify.OK, scheme: "http", asked: plainSrv},
		{name: "https server that speaks plain HTTP", tree: files{
			"registry.test/hosts.toml": "server = \"https://{plain}\"\n"}, want: verify.RegistryHTTPOnly},
		{name: "http server with TLS settings tries HTTPS first", tree: files{
			"registry.test/hosts.toml": "server = \"http://{tls}\"\nca = \"ca.pem\"\n",
			"registry.test/ca.pem":     "{ca}"}, want: verify.OK, scheme: "https", detail: "HTTPS first"},
		{name: "_default folder", tree: files{
			"_default/hosts.toml": "server = \"https://{tls}\"\nca = \"ca.pem\"\n",
			"_default/ca.pem":     "{ca}"}, want: verify.OK},
		{name: "Docker Hub is configured under docker.io", host: "docker.io", tree: files{
			"docker.io/hosts.toml": "server = \"https://{tls}\"\nca = \"ca.pem\"\n",
			"docker.io/ca.pem":     "{ca}"}, want: verify.OK},
		{name: "index.docker.io is docker.io", host: "index.docker.io", tree: files{
			"docker.io/hosts.toml": "server = \"https://{tls}\"\nca = \"ca.pem\"\n",
			"docker.io/ca.pem":     "{ca}"}, want: verify.OK},
		{name: "host:port folder", host: "{tls}", tree: files{
			"{tls}/hosts.toml": "server = \"https://{tls}\"\nca = \"ca.pem\"\n",
			"{tls}/ca.pem":     "{ca}"}, want: verify.OK},
		{name: "loopback without configuration: containerd skips verification", host: "{tls}", tree: files{},
			want: verify.OK, scheme: "https"},
		{name: "loopback plain HTTP without configuration", host: "{plain}", tree: files{},
			want: verify.OK, scheme: "http"},
		{name: "a CA file that is missing", tree: files{
			"registry.test/hosts.toml": "server = \"https://{tls}\"\nca = \"missing.pem\"\n"},
			want: verify.RegistryTLSError, tlsProblem: "node configuration", detail: "missing.pem"},
		{name: "hosts.toml containerd cannot decode: it falls back to the certificate files", host: "{tls}", tree: files{
			"{tls}/hosts.toml": "server = [\"https://{dead}\"\n"},
			want: verify.OK, detail: "failed to decode"},
		{name: "unknown capability: the whole file is ignored", host: "{plain}", tree: files{
			"{plain}/hosts.toml": "server = \"https://{dead}\"\ncapabilities = [\"pull\", \"fly\"]\n"},
			want: verify.OK, scheme: "http", asked: plainSrv, detail: "unknown capability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.tree.write(t, vars)
			host := tt.host
			if host == "" {
				host = ns
			}
			host = strings.NewReplacer("{tls}", tlsSrv.host, "{plain}", plainSrv.host).Replace(host)
			r := nodeprobe.Probe(context.Background(), host, dir, 20*time.Second)
			if r.Result.Outcome != tt.want {
				t.Fatalf("outcome %s (%s), want %s; report %+v", r.Result.Outcome, r.Result.Detail, tt.want, r)
			}
			if tt.tlsProblem != "" && r.Result.TLSProblem != tt.tlsProblem {
				t.Errorf("tlsProblem %q, want %q (%s)", r.Result.TLSProblem, tt.tlsProblem, r.Result.Detail)
			}
			if tt.scheme != "" && r.Result.Scheme != tt.scheme {
				t.Errorf("scheme %q, want %q (%s)", r.Result.Scheme, tt.scheme, r.Result.Detail)
			}
			if tt.detail != "" && !strings.Contains(r.Result.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", r.Result.Detail, tt.detail)
			}
			if tt.endpoints != nil {
				var got []string
				for _, e := range r.Endpoints {
					got = append(got, e.URL)
				}
				want := strings.Split(strings.NewReplacer("{tls}", tlsSrv.host, "{plain}", plainSrv.host, "{dead}", deadHost).Replace(strings.Join(tt.endpoints, " ")), " ")
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("endpoints %v, want %v", got, want)
				}
			}
			if tt.asked != nil {
				req := tt.asked.last(t)
				if tt.askedPath != "" && req.URL.Path != tt.askedPath {
					t.Errorf("asked %s, want %s", req.URL.Path, tt.askedPath)
				}
				if tt.askedHdr[0] != "" && req.Header.Get(tt.askedHdr[0]) != tt.askedHdr[1] {
					t.Errorf("header %s = %q, want %q", tt.askedHdr[0], req.Header.Get(tt.askedHdr[0]), tt.askedHdr[1])
				}
				if req.Header.Get("Authorization") != "" {
					t.Errorf("the probe sent credentials: %q", req.Header.Get("Authorization"))
				}
			}
		})
	}
}

// TestProbeDockerCertFiles: without hosts.toml, containerd reads Docker's layout in the
// host folder: *.crt are CAs, *.cert with the *.key of the same name client pairs.
func TestProbeDockerCertFiles(t *testing.T) {
	name := loopbackName(t)
	ca, clientCA := newCA(t, "registry CA"), newCA(t, "client CA")
	serving, err := ca.Serving(name, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := clientCA.Client("node")
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv, mtlsSrv := serve(t, &serving, nil), serve(t, &serving, clientCA)
	clientPEM, clientKey := pemOf(t, clientCert)
	named := func(s *server) string { _, port, _ := net.SplitHostPort(s.host); return net.JoinHostPort(name, port) }
	dirOf := func(s *server) string { _, port, _ := net.SplitHostPort(s.host); return name + "_" + port + "_" }

	tests := []struct {
		name       string
		host       string
		tree       files
		want       verify.Outcome
		tlsProblem string
	}{
		{"a *.crt in host:port", named(tlsSrv), files{named(tlsSrv) + "/registry.crt": string(ca.PEM)}, verify.OK, ""},
		{"a *.crt in host_port_", named(tlsSrv), files{dirOf(tlsSrv) + "/registry.crt": string(ca.PEM)}, verify.OK, ""},
		{"no host folder: the system trust store", named(tlsSrv), files{}, verify.RegistryTLSError, "unknown authority"},
		{"a CA not named *.crt is not read", named(tlsSrv), files{named(tlsSrv) + "/ca.pem": string(ca.PEM)}, verify.RegistryTLSError, "unknown authority"},
		{"*.cert and *.key pair", named(mtlsSrv), files{
			named(mtlsSrv) + "/ca.crt":      string(ca.PEM),
			named(mtlsSrv) + "/client.cert": clientPEM,
			named(mtlsSrv) + "/client.key":  clientKey}, verify.OK, ""},
		{"*.cert without its key", named(mtlsSrv), files{
			named(mtlsSrv) + "/ca.crt":      string(ca.PEM),
			named(mtlsSrv) + "/client.cert": clientPEM}, verify.RegistryTLSError, "node configuration"},
		{"no client certificate", named(mtlsSrv), files{named(mtlsSrv) + "/ca.crt": string(ca.PEM)}, verify.RegistryTLSError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.tree.write(t, nil)
			r := nodeprobe.Probe(context.Background(), tt.host, dir, 20*time.Second)
			if r.Result.Outcome != tt.want || (tt.tlsProblem != "" && r.Result.TLSProblem != tt.tlsProblem) {
				t.Fatalf("outcome %s %q (%s), want %s %q", r.Result.Outcome, r.Result.TLSProblem, r.Result.Detail, tt.want, tt.tlsProblem)
			}
		})
	}
}

// TestProbeDistributionRegistry: the probe of a real distribution registry over TLS,
// trusted through hosts.toml, answers as the registry does (401 asks for credentials,
// and none are sent).
func TestProbeDistributionRegistry(t *testing.T) {
	ctx := context.Background()
	reg, err := registry.Start(ctx, registry.Options{TLS: true, Auth: registry.AuthBasic, Users: map[string]string{"alice": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dir := files{
		"registry.test/hosts.toml": "server = \"https://" + reg.Host + "\"\nca = \"ca.pem\"\n",
		"registry.test/ca.pem":     string(reg.CAPEM),
	}.write(t, nil)
	r := nodeprobe.Probe(ctx, "registry.test", dir, 20*time.Second)
	if r.Result.Outcome != verify.OK || !strings.Contains(r.Result.Detail, "answered 401") || r.HostsDir != filepath.Join(dir, "registry.test") {
		t.Fatalf("report %+v, want OK from a 401 read from %s", r, filepath.Join(dir, "registry.test"))
	}
}
