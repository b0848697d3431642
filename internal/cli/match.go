package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/keyring"
)

// MatchOptions are the options of `kubectl regcred match`.
type MatchOptions struct {
	Image        string
	SecretFiles  []string
	DockerConfig string
	Secrets      []string
	output       viewOutput

	flags     *genericclioptions.ConfigFlags
	client    kubernetes.Interface
	namespace string
	genericiooptions.IOStreams
}

// matchReport is match's -o json|yaml.
type matchReport struct {
	Image       string            `json:"image"`
	Repository  string            `json:"repository"`
	Credentials []matchCredential `json:"credentials"`
	NearMisses  []matchNearMiss   `json:"nearMisses"`
	Warnings    []string          `json:"warnings,omitempty"`
}

type matchCredential struct {
	Key      string `json:"key"`
	Username string `json:"username"`
	Source   string `json:"source"`
	Fallback bool   `json:"dockerHubFallback,omitempty"`
}

type matchNearMiss struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
	Source string `json:"source"`
}

// NewCmdMatch returns `kubectl regcred match`.
func NewCmdMatch(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &MatchOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "match IMAGE (--secret-file F... | --docker-config F | --secret NAME... [-n NS])",
		Short: "Which credentials the kubelet would try for an image, in which order (offline)",
		Long: `Answer, without contacting any registry, which credentials the kubelet would try for
an image and in which order, with the kubelet's own matching rules (host labels and
globs, ports as written, path prefixes, the Docker Hub fallback); and for keys that
look meant for the image but do not match, why not.`,
		Example: `  kubectl regcred match reg.example.com:5000/team/app:1 --secret-file pull-secret.yaml
  kubectl regcred match nginx --docker-config ~/.docker/config.json -o json
  kubectl regcred match ghcr.io/org/app -n team-a --secret regcred --secret other`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringArrayVar(&o.SecretFiles, "secret-file", nil, "Secret manifests, YAML or JSON, several documents each (repeat for several files)")
	cmd.Flags().StringVar(&o.DockerConfig, "docker-config", "", "a docker config.json")
	cmd.Flags().StringArrayVar(&o.Secrets, "secret", nil, "Secrets in the cluster, in pod order (repeat)")
	o.output.addFlag(cmd.Flags(), "match", "the credentials and near misses")
	return cmd
}

// Complete reads the argument, and makes the client when Secrets are read from the
// cluster.
func (o *MatchOptions) Complete(args []string) error {
	o.Image = args[0]
	if len(o.Secrets) == 0 {
		return nil
	}
	var err error
	o.client, o.namespace, err = clientFor(o.flags)
	return err
}

// Validate checks that exactly one source is given; it changes nothing.
func (o *MatchOptions) Validate() error {
	n := 0
	for _, set := range []bool{len(o.SecretFiles) > 0, o.DockerConfig != "", len(o.Secrets) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give the credentials one way: --secret-file, --docker-config or --secret")
	}
	return o.output.validate()
}

// Run looks up the image.
func (o *MatchOptions) Run(ctx context.Context) error {
	var entries []keyring.Entry
	var warnings []string
	var err error
	switch {
	case o.DockerConfig != "":
		entries, warnings, err = dockerConfigEntries(o.DockerConfig)
	case len(o.SecretFiles) > 0:
		var secrets []*corev1.Secret
		if secrets, err = readSecretFiles(o.SecretFiles); err == nil {
			entries, warnings, err = keyringEntries(secrets)
		}
	default:
		entries, warnings, err = o.clusterEntries(ctx)
	}
	if err != nil {
		return err
	}
	res, err := keyring.Lookup(o.Image, entries)
	if errors.Is(err, keyring.ErrInvalidImage) {
		return fmt.Errorf("image: %w", err)
	} else if err != nil {
		return err
	}
	report := matchReport{Image: res.Image, Repository: res.Repository, Credentials: []matchCredential{}, NearMisses: []matchNearMiss{}, Warnings: warnings}
	for _, m := range res.Matches {
		report.Credentials = append(report.Credentials, matchCredential{Key: m.Key, Username: m.Username, Source: m.Source, Fallback: m.Fallback})
	}
	for _, n := range res.NearMisses {
		report.NearMisses = append(report.NearMisses, matchNearMiss{Key: n.Key, Reason: n.Reason, Source: n.Source})
	}
	if !o.output.text() {
		return o.output.print(o.Out, report)
	}
	printMatch(o.Out, report)
	return nil
}

func (o *MatchOptions) clusterEntries(ctx context.Context) ([]keyring.Entry, []string, error) {
	cs, ns := o.client, o.namespace
	secrets, warnings, err := getSecrets(ctx, cs, ns, o.Secrets)
	if err != nil {
		return nil, nil, err
	}
	entries, more, err := keyringEntries(secrets)
	return entries, append(warnings, more...), err
}

func printMatch(w io.Writer, r matchReport) {
	fmt.Fprintf(w, "Image:       %s\nRepository:  %s\n", r.Image, r.Repository)
	if len(r.Credentials) == 0 {
		fmt.Fprintln(w, "\nNo credential applies: the kubelet pulls this image anonymously.")
	} else {
		fmt.Fprintln(w, "\nThe kubelet tries, in this order, until one works:")
		for i, c := range r.Credentials {
			via := ""
			if c.Fallback {
				via = " (Docker Hub fallback)"
			}
			fmt.Fprintf(w, "  %d. %s  user %s  from %s%s\n", i+1, c.Key, orDash(c.Username), c.Source, via)
		}
	}
	if len(r.NearMisses) > 0 {
		fmt.Fprintln(w, "\nKeys that do not match:")
		for _, n := range r.NearMisses {
			fmt.Fprintf(w, "  %s  from %s: %s\n", n.Key, n.Source, n.Reason)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}
