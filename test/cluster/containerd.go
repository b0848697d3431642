package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/regcred/regcred/test/pki"
	"github.com/regcred/regcred/test/registry"
)

// runtimeConfig writes containerd's config, its per-registry hosts.toml files and the
// CNI config into dir, and returns the config's path.
func runtimeConfig(dir, bridge, podCIDR, gateway, pauseImage string, regs []*registry.Registry, trusted map[string]bool, auth map[string]Login) (string, error) {
	certsD := filepath.Join(dir, "certs.d")
	for _, r := range regs {
		var hosts string
		switch {
		case r.Scheme == "http":
			// Plain HTTP only where the node is told so, as a node admin would.
			hosts = fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", "http://"+r.Host, "http://"+r.Host)
		case trusted[r.Host]:
			ca := filepath.Join(certsD, r.Host, "ca.crt")
			if err := pki.WriteFile(ca, r.CAPEM); err != nil {
				return "", err
			}
			hosts = fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n", "https://"+r.Host, "https://"+r.Host, ca)
		default:
			// HTTPS with the system's trust store, which lacks this CA. Said
			// explicitly: without a hosts.toml containerd talks plain HTTP to loopback.
			hosts = fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", "https://"+r.Host, "https://"+r.Host)
		}
		if err := pki.WriteFile(filepath.Join(certsD, r.Host, "hosts.toml"), []byte(hosts)); err != nil {
			return "", err
		}
	}

	// Gateway on the bridge, but no default route and no masquerade for pods:
	// nothing a pod sends can leave the machine (local-cluster.md, "The network").
	cni := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "regcred",
		"plugins": []any{map[string]any{
			"type":      "bridge",
			"bridge":    bridge,
			"isGateway": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  []any{[]any{map[string]any{"subnet": podCIDR, "gateway": gateway}}},
				"dataDir": filepath.Join(dir, "cni-ipam"),
			},
		}},
	}
	cniJSON, err := json.MarshalIndent(cni, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode CNI config: %w", err)
	}
	cniDir := filepath.Join(dir, "cni-conf")
	if err := pki.WriteFile(filepath.Join(cniDir, "10-regcred.conflist"), cniJSON); err != nil {
		return "", err
	}

	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.overlayfs"]

[grpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), socketPath(dir), pauseImage, filepath.Join(dir, "runc"), cniDir, certsD)
	// The node's own credentials, as a docker login on the node would be: containerd
	// uses them when the kubelet passes none.
	for _, host := range slices.Sorted(maps.Keys(auth)) {
		cfg += fmt.Sprintf("  [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.%q.auth]\n    username = %q\n    password = %q\n", host, auth[host].Username, auth[host].Password)
	}
	path := filepath.Join(dir, "config.toml")
	return path, pki.WriteFile(path, []byte(cfg))
}

// socketPath is containerd's socket for a runtime folder.
func socketPath(dir string) string { return filepath.Join(dir, "containerd.sock") }
