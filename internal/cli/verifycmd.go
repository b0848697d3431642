package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/verify"
)

// VerifyOptions are the options of `kubectl regcred verify`.
type VerifyOptions struct {
	Secret        string
	Image         string
	Server        string
	Username      string
	PasswordStdin bool
	output        viewOutput
	registryFlags registryFlags

	flags     *genericclioptions.ConfigFlags
	client    kubernetes.Interface
	namespace string
	checker   *verify.Checker
	genericiooptions.IOStreams
}

// verifyReport is verify's -o json|yaml.
type verifyReport struct {
	Image      string          `json:"image"`
	Repository string          `json:"repository"`
	Pullable   bool            `json:"pullable"`
	Attempts   []verifyAttempt `json:"attempts"`
	NearMisses []matchNearMiss `json:"nearMisses,omitempty"`
	Warnings   []string        `json:"warnings,omitempty"`
}

type verifyAttempt struct {
	Key      string        `json:"key,omitempty"`
	Username string        `json:"username,omitempty"`
	Source   string        `json:"source,omitempty"`
	Result   verify.Result `json:"result"`
}

// NewCmdVerify returns `kubectl regcred verify`.
func NewCmdVerify(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &VerifyOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "verify (SECRET [-n NS] | --server S --username U --password-stdin) --image IMAGE",
		Short: "Check against the registry that an image can be pulled with a Secret or a credential",
		Long: `Try the pull the way the kubelet and the runtime would, without downloading layers:
with a Secret, the credentials the kubelet would pick for the image, in its order
(and anonymously when none applies, as the kubelet does); with --server, that
credential. Exit status 0 only when the image can be pulled.`,
		Example: `  kubectl regcred verify regcred -n team-a --image reg.example.com:5000/team/app:1
  printf '%s' "$PW" | kubectl regcred verify --server reg.example.com --username robot \
      --password-stdin --image reg.example.com/team/app:1 -o json`,
		Args: cobra.MaximumNArgs(1),
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
	cmd.Flags().StringVar(&o.Image, "image", "", "the image to check")
	cmd.Flags().StringVar(&o.Server, "server", "", "registry of the credential (instead of a Secret)")
	cmd.Flags().StringVar(&o.Username, "username", "", "registry user (with --server)")
	cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from standard input (with --server)")
	o.output.addFlag(cmd.Flags(), "verify", "the attempts and their outcomes")
	o.registryFlags.add(cmd.Flags())
	return cmd
}

// Complete reads the argument, makes the registry checker, and the client when a
// Secret is named.
func (o *VerifyOptions) Complete(args []string) error {
	if len(args) == 1 {
		o.Secret = args[0]
	}
	var err error
	if o.checker, err = o.registryFlags.checker(); err != nil {
		return err
	}
	if o.Secret != "" {
		o.client, o.namespace, err = clientFor(o.flags)
	}
	return err
}

// Validate checks the flags; it changes nothing.
func (o *VerifyOptions) Validate() error {
	if o.Image == "" {
		return fmt.Errorf("--image is required: the image to check")
	}
	direct := o.Server != "" || o.Username != "" || o.PasswordStdin
	switch {
	case o.Secret != "" && direct:
		return fmt.Errorf("verify a Secret or a credential (--server, --username, --password-stdin), not both")
	case o.Secret == "" && !direct:
		return fmt.Errorf("name a Secret, or give --server, --username and --password-stdin")
	case direct && (o.Server == "" || o.Username == "" || !o.PasswordStdin):
		return fmt.Errorf("--server, --username and --password-stdin go together")
	}
	return o.output.validate()
}

// Run checks the image.
func (o *VerifyOptions) Run(ctx context.Context) error {
	var entries []keyring.Entry
	var warnings []string
	if o.Secret != "" {
		cs, ns := o.client, o.namespace
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, o.Secret, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get secret %s/%s: %w", ns, o.Secret, err)
		}
		if entries, warnings, err = keyringEntries([]*corev1.Secret{s}); err != nil {
			return err
		}
	} else {
		key, err := dockercfg.KeyFor(o.Server)
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		password, err := readPassword(o.In, "stdin")
		if err != nil {
			return err
		}
		entries = []keyring.Entry{keyring.NewEntry(key, o.Username, password, "--server")}
	}
	res, err := keyring.Lookup(o.Image, entries)
	if errors.Is(err, keyring.ErrInvalidImage) {
		return fmt.Errorf("--image: %w", err)
	} else if err != nil {
		return err
	}
	report := verifyReport{Image: o.Image, Repository: res.Repository, Attempts: []verifyAttempt{}, Warnings: warnings}
	for _, n := range res.NearMisses {
		report.NearMisses = append(report.NearMisses, matchNearMiss{Key: n.Key, Reason: n.Reason, Source: n.Source})
	}
	// The kubelet tries the matching credentials in order and stops at the first that
	// works; with none it pulls anonymously.
	for _, m := range res.Matches {
		cred := dockercfg.Credential{Username: m.Username, Password: m.Password}
		r, err := o.checker.Check(ctx, o.Image, &cred, false)
		if err != nil {
			return err
		}
		report.Attempts = append(report.Attempts, verifyAttempt{Key: m.Key, Username: m.Username, Source: m.Source, Result: r})
		if r.Outcome.Pullable() {
			report.Pullable = true
			break
		}
	}
	if len(res.Matches) == 0 && o.Secret == "" {
		return failed("--server %s would not be used for %s (repository %s): the kubelet matches credentials by registry host, port and path", o.Server, o.Image, res.Repository)
	}
	if len(res.Matches) == 0 {
		r, err := o.checker.Check(ctx, o.Image, nil, false)
		if err != nil {
			return err
		}
		report.Attempts = append(report.Attempts, verifyAttempt{Result: r})
		report.Pullable = r.Outcome.Pullable()
	}
	if !o.output.text() {
		if err := o.output.print(o.Out, report); err != nil {
			return err
		}
	} else {
		printVerify(o.Out, report)
	}
	if !report.Pullable {
		return failed("%s cannot be pulled: %s", o.Image, report.Attempts[len(report.Attempts)-1].Result.Outcome)
	}
	return nil
}

func printVerify(w io.Writer, r verifyReport) {
	for _, a := range r.Attempts {
		who := "anonymously (no credential applies)"
		if a.Key != "" {
			who = fmt.Sprintf("as %s (key %s from %s)", orDash(a.Username), a.Key, a.Source)
		}
		fmt.Fprintf(w, "%s %s: %s\n  %s\n", r.Image, who, a.Result.Outcome, a.Result.Detail)
	}
	for _, n := range r.NearMisses {
		fmt.Fprintf(w, "key %s from %s does not apply: %s\n", n.Key, n.Source, n.Reason)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}
