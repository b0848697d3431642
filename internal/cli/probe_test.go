package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestProbeRegistry: the node's view, from the runtime's certs.d: the TLS registry's CA
// named in hosts.toml is trusted, absent it is not (internal/nodeprobe tests the
// variants of containerd's host configuration).
func TestProbeRegistry(t *testing.T) {
	trusted, untrusted := t.TempDir(), t.TempDir()
	tlsHost := regs.TLS.Host
	ca := filepath.Join(trusted, tlsHost, "ca.crt")
	os.MkdirAll(filepath.Dir(ca), 0o755)
	os.WriteFile(ca, regs.TLS.CAPEM, 0o644)
	os.WriteFile(filepath.Join(trusted, tlsHost, "hosts.toml"), []byte("server = \"https://"+tlsHost+"\"\n\n[host.\"https://"+tlsHost+"\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \""+ca+"\"\n"), 0o644)
	// Without a host folder containerd skips verification for a loopback registry; a
	// hosts.toml that names its server without a CA verifies with the system trust.
	os.MkdirAll(filepath.Join(untrusted, tlsHost), 0o755)
	os.WriteFile(filepath.Join(untrusted, tlsHost, "hosts.toml"), []byte("server = \"https://"+tlsHost+"\"\n"), 0o644)
	tests := []struct {
		name, host, dir, want string
	}{
		{"CA from hosts.toml", tlsHost, trusted, "OK"},
		{"no CA for it", tlsHost, untrusted, "RegistryTLSError"},
		{"loopback without a host folder: containerd skips verification", tlsHost, t.TempDir(), "OK"},
		{"basic registry answers 401, still reachable", regs.Basic.Host, untrusted, "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, "probe-registry", tt.host, "--certs-dir", tt.dir)
			var r struct {
				Result struct{ Outcome string }
			}
			if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Result.Outcome != tt.want {
				t.Errorf("probe-registry %s: exit %d, %s%s; want %s", tt.host, code, out, errOut, tt.want)
			}
		})
	}
}
