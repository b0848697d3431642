package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/regcred/regcred/internal/verify"
)

// probeReport is what probe-registry prints: a node's own view of a registry.
type probeReport struct {
	Host      string        `json:"host"`
	Resolved  []string      `json:"resolved,omitempty"`
	HostsTOML string        `json:"hostsToml,omitempty"`
	Result    verify.Result `json:"result"`
}

// NewCmdProbeRegistry returns `kubectl regcred probe-registry`, which doctor
// --probe-node runs inside a host-network pod on a node.
func NewCmdProbeRegistry(streams genericiooptions.IOStreams) *cobra.Command {
	var certsDir string
	cmd := &cobra.Command{
		Use:   "probe-registry HOST",
		Short: "Ping a registry with the trust of the runtime's certs.d (run on a node by doctor --probe-node)",
		Long: `Resolve the registry's name, connect, complete TLS with the system trust store plus the
CA that the runtime's certs.d/HOST/hosts.toml names (plain HTTP if its server says
http://), and ask /v2/ without credentials. Prints JSON. It sends no credentials.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := probeRegistry(cmd.Context(), args[0], certsDir)
			return printValue(streams.Out, "json", r)
		},
	}
	cmd.Flags().StringVar(&certsDir, "certs-dir", "/etc/containerd/certs.d", "the runtime's registry configuration folder (containerd config_path)")
	return cmd
}

var tomlString = regexp.MustCompile(`(?m)^\s*(server|ca)\s*=\s*(\[[^\]]*\]|"[^"]*")`)

func probeRegistry(ctx context.Context, host, certsDir string) probeReport {
	r := probeReport{Host: host}
	hostname, _, err := net.SplitHostPort(host)
	if err != nil {
		hostname = host
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if addrs, err := net.DefaultResolver.LookupHost(ctx, hostname); err == nil {
		r.Resolved = addrs
	}
	checker := &verify.Checker{Timeout: 10 * time.Second}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	path := filepath.Join(certsDir, host, "hosts.toml")
	if b, err := os.ReadFile(path); err == nil {
		r.HostsTOML = path
		for _, m := range tomlString.FindAllStringSubmatch(string(b), -1) {
			for _, v := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
				switch m[1] {
				case "server":
					if strings.HasPrefix(v[1], "http://") {
						checker.PlainHTTP = verify.PlainHTTPAlways
					}
				case "ca":
					if pem, err := os.ReadFile(v[1]); err == nil {
						pool.AppendCertsFromPEM(pem)
					}
				}
			}
		}
	}
	checker.RootCAs = pool
	r.Result = checker.Ping(ctx, host)
	if r.Result.Outcome != verify.OK && len(r.Resolved) == 0 && r.Result.Outcome == verify.RegistryUnreachable {
		r.Result.Detail += fmt.Sprintf(" (the node could not resolve %s)", hostname)
	}
	return r
}
