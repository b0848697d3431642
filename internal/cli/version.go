package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"

	"github.com/regcred/regcred/internal/buildinfo"
)

// VersionOptions are the options of `kubectl regcred version`.
type VersionOptions struct {
	ClientOnly bool
	output     viewOutput

	flags     *genericclioptions.ConfigFlags
	discovery discovery.DiscoveryInterface
	genericiooptions.IOStreams
}

// versionInfo is what version prints with -o json|yaml.
type versionInfo struct {
	ClientVersion string `json:"clientVersion"`
	ServerVersion string `json:"serverVersion,omitempty"`
}

// NewCmdVersion returns `kubectl regcred version`.
func NewCmdVersion(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the regcred version and the cluster's Kubernetes version",
		Example: `  kubectl regcred version
  kubectl regcred version --client -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().BoolVar(&o.ClientOnly, "client", false, "print the client version only, without contacting the cluster")
	o.output.addFlag(cmd.Flags(), "version", "the versions")
	return cmd
}

// Validate checks the flags.
func (o *VersionOptions) Validate() error {
	return o.output.validate()
}

// Complete makes the discovery client unless only the client version is asked for.
func (o *VersionOptions) Complete() error {
	if o.ClientOnly {
		return nil
	}
	d, err := o.flags.ToDiscoveryClient()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	o.discovery = d
	return nil
}

// Run prints the versions.
func (o *VersionOptions) Run() error {
	info := versionInfo{ClientVersion: buildinfo.Version()}
	if o.discovery != nil {
		v, err := o.discovery.ServerVersion()
		if err != nil {
			if o.output.text() {
				fmt.Fprintf(o.Out, "Client Version: %s\n", info.ClientVersion)
			}
			return fmt.Errorf("ask the cluster for its version: %w", err)
		}
		info.ServerVersion = v.GitVersion
	}
	if !o.output.text() {
		return o.output.print(o.Out, info)
	}
	fmt.Fprintf(o.Out, "Client Version: %s\n", info.ClientVersion)
	if info.ServerVersion != "" {
		fmt.Fprintf(o.Out, "Server Version: %s\n", info.ServerVersion)
	}
	return nil
}
