package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// ShowOptions are the options of `kubectl regcred show`.
type ShowOptions struct {
	Name   string
	Reveal bool
	output viewOutput

	flags     *genericclioptions.ConfigFlags
	client    kubernetes.Interface
	namespace string
	genericiooptions.IOStreams
}

// secretView is what show prints: the Secret as the kubelet reads it.
type secretView struct {
	Namespace string      `json:"namespace"`
	Name      string      `json:"name"`
	Type      string      `json:"type"`
	Entries   []entryView `json:"entries"`
	Warnings  []string    `json:"warnings"`
}

type entryView struct {
	Key        string `json:"key"`
	KubeletKey string `json:"kubeletKey,omitempty"` // empty when the kubelet drops the key
	Username   string `json:"username"`
	Password   string `json:"password"` // "(redacted)" unless --reveal
	Email      string `json:"email,omitempty"`
}

// NewCmdShow returns `kubectl regcred show`.
func NewCmdShow(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ShowOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a pull Secret as the kubelet reads it, password hidden",
		Long: `Decode a pull Secret: its type and key, each registry key with the form the kubelet
matches on, the username, and what will not work as meant (a type the kubelet
ignores, a key it cannot parse, empty entries, auth disagreeing with username and
password). The password stays hidden unless --reveal.`,
		Example: `  kubectl regcred show regcred -n team-a
  kubectl regcred show regcred -n team-a -o json`,
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
	cmd.Flags().BoolVar(&o.Reveal, "reveal", false, "print passwords in clear")
	o.output.addFlag(cmd.Flags(), "show", "the Secret as the kubelet reads it")
	return cmd
}

// Complete reads the argument and makes the client.
func (o *ShowOptions) Complete(args []string) error {
	o.Name = args[0]
	var err error
	o.client, o.namespace, err = clientFor(o.flags)
	return err
}

// Validate checks the flags; it changes nothing.
func (o *ShowOptions) Validate() error {
	return o.output.validate()
}

// Run reads the Secret and prints it.
func (o *ShowOptions) Run(ctx context.Context) error {
	s, err := o.client.CoreV1().Secrets(o.namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get secret %s/%s: %w", o.namespace, o.Name, err)
	}
	v := viewSecret(s, o.Reveal)
	if !o.output.text() {
		return o.output.print(o.Out, v)
	}
	fmt.Fprintf(o.Out, "Secret %s/%s  type %s\n\n", v.Namespace, v.Name, v.Type)
	if len(v.Entries) > 0 {
		tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tKUBELET MATCHES\tUSERNAME\tPASSWORD")
		for _, e := range v.Entries {
			kk := e.KubeletKey
			if kk == "" {
				kk = "(ignored)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, kk, orDash(e.Username), orDash(e.Password))
		}
		tw.Flush()
	}
	if len(v.Warnings) > 0 {
		fmt.Fprintln(o.Out)
		for _, w := range v.Warnings {
			fmt.Fprintf(o.Out, "warning: %s\n", w)
		}
	}
	return nil
}

// viewSecret reads a Secret the kubelet's way. A Secret the kubelet skips or cannot
// parse still shows what it holds, with the reason as a warning.
func viewSecret(s *corev1.Secret, reveal bool) secretView {
	v := secretView{Namespace: s.Namespace, Name: s.Name, Type: string(typeOf(s)), Entries: []entryView{}, Warnings: []string{}}
	cfg, err := dockercfg.FromSecret(s)
	skipped := errors.Is(err, dockercfg.ErrWrongType)
	if skipped {
		v.Warnings = append(v.Warnings, err.Error())
		// Show what it would hold under the right type, to help the fix.
		if cfg, err = dockercfg.UnderRightType(s); errors.Is(err, dockercfg.ErrNoData) {
			return v
		}
	}
	var parseErr *dockercfg.ParseError
	switch {
	case errors.As(err, &parseErr) && !skipped:
		v.Warnings = append(v.Warnings, err.Error()+" (the kubelet fails every pull of a pod that references this Secret)")
		return v
	case err != nil:
		v.Warnings = append(v.Warnings, err.Error())
		return v
	}
	// The keyring's entries carry keys with any user information redacted.
	for i, e := range keyring.FromConfig(cfg, "") {
		ev := entryView{Key: e.Key, Username: e.Username, Email: cfg.Entries[i].Email, Password: "(redacted)"}
		if e.Password == "" {
			ev.Password = ""
		} else if reveal {
			ev.Password = e.Password
		}
		if k, err := keyring.NormalizeKey(e.Key); err == nil {
			ev.KubeletKey = k
		} else {
			v.Warnings = append(v.Warnings, fmt.Sprintf("entry %q: %v: the kubelet ignores it", e.Key, err))
		}
		v.Entries = append(v.Entries, ev)
	}
	v.Warnings = append(v.Warnings, cfg.Problems()...)
	return v
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
