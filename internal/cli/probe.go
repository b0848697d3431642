package cli

import (
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/regcred/regcred/internal/nodeprobe"
)

// NewCmdProbeRegistry returns `kubectl regcred probe-registry`, which doctor
// --probe-node runs inside a host-network pod on a node.
func NewCmdProbeRegistry(streams genericiooptions.IOStreams) *cobra.Command {
	var certsDir string
	cmd := &cobra.Command{
		Use:   "probe-registry HOST",
		Short: "Ping a registry as the node's containerd would reach it (run on a node by doctor --probe-node)",
		Long: `Read the runtime's registry configuration for HOST as containerd does (certs.d/HOST/hosts.toml
or certs.d/_default: server, [host."..."] mirrors in order, capabilities, ca, client,
skip_verify, override_path, header; or Docker's *.crt, *.cert and *.key files), then for
each endpoint that can resolve or pull: resolve its name, connect, complete TLS with that
configuration and the system trust store, and ask its API root without credentials.
HOST is the registry as images name it: docker.io for Docker Hub. Prints JSON. It sends
no credentials.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := nodeprobe.Probe(cmd.Context(), args[0], certsDir, 30*time.Second)
			return viewOutput{Format: "json"}.print(streams.Out, r)
		},
	}
	cmd.Flags().StringVar(&certsDir, "certs-dir", "/etc/containerd/certs.d", "the runtime's registry configuration folder (containerd config_path)")
	return cmd
}
