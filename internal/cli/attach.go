package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/serviceaccount"
)

// AttachOptions are the options of `kubectl regcred attach` and `detach`.
type AttachOptions struct {
	Secret          string
	ServiceAccounts []string
	AllNamespaces   bool
	Restart         bool
	DryRun          string
	detach          bool

	flags           *genericclioptions.ConfigFlags
	client          kubernetes.Interface
	namespace       string
	serviceAccounts []string
	dryRun          dryRunMode
	genericiooptions.IOStreams
}

// NewCmdAttach returns `kubectl regcred attach`.
func NewCmdAttach(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newAttachCmd(flags, streams, false)
}

// NewCmdDetach returns `kubectl regcred detach`.
func NewCmdDetach(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newAttachCmd(flags, streams, true)
}

func newAttachCmd(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, detach bool) *cobra.Command {
	o := &AttachOptions{flags: flags, IOStreams: streams, detach: detach}
	cmd := &cobra.Command{
		Use:   "attach SECRET --serviceaccount NAME[,NAME...|*] [-n NS | -A]",
		Short: "Add a pull Secret to ServiceAccounts, keeping their other entries",
		Long: `Add the Secret to the ServiceAccounts' imagePullSecrets without dropping the entries
already there (the list is replaced whole by 'kubectl patch'; this reads, changes and
writes it back with the version it read, retrying on conflict).

Pods get a ServiceAccount's pull Secrets only when they are created: attach lists the
running pods that will not see the Secret until recreated, and --restart does a
rollout restart of the Deployments, StatefulSets and DaemonSets that own them; a
restart that fails makes the command fail, naming the workload.

When the change of one ServiceAccount fails, the changes made before it are undone
and the command exits non-zero.`,
		Example: `  kubectl regcred attach regcred --serviceaccount default -n team-a
  kubectl regcred attach regcred --serviceaccount '*' -A --restart`,
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
	if detach {
		cmd.Use = "detach SECRET --serviceaccount NAME[,NAME...|*] [-n NS | -A]"
		cmd.Short = "Remove a pull Secret from ServiceAccounts, keeping their other entries"
		cmd.Long = "Remove the Secret from the ServiceAccounts' imagePullSecrets, keeping every other entry.\nRunning pods keep the copy they got at creation. When the change of one ServiceAccount\nfails, the changes made before it are undone and the command exits non-zero."
		cmd.Example = "  kubectl regcred detach regcred --serviceaccount default -n team-a"
	}
	cmd.Flags().StringSliceVar(&o.ServiceAccounts, "serviceaccount", nil, "ServiceAccounts (comma-separated), or * for all")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "every namespace that has the Secret")
	cmd.Flags().StringVar(&o.DryRun, "dry-run", "none", "none, client or server")
	if !detach {
		cmd.Flags().BoolVar(&o.Restart, "restart", false, "rollout-restart the workloads whose pods do not have the Secret")
	}
	return cmd
}

// Complete reads the argument and the flags, and makes the client.
func (o *AttachOptions) Complete(args []string) error {
	o.Secret = args[0]
	o.serviceAccounts = splitList(o.ServiceAccounts)
	var err error
	if o.dryRun, err = parseDryRun(o.DryRun); err != nil {
		return err
	}
	o.client, o.namespace, err = clientFor(o.flags)
	return err
}

// Validate checks the flags; it changes nothing.
func (o *AttachOptions) Validate() error {
	if len(o.serviceAccounts) == 0 {
		return fmt.Errorf("--serviceaccount is required: name one or more ServiceAccounts, or '*' for all")
	}
	if slices.Contains(o.serviceAccounts, "*") && len(o.serviceAccounts) > 1 {
		return fmt.Errorf("--serviceaccount '*' means all: do not list others with it")
	}
	if o.AllNamespaces && o.flags.Namespace != nil && *o.flags.Namespace != "" {
		return fmt.Errorf("-n and -A choose the namespaces in different ways: use one")
	}
	if o.Restart && o.dryRun != dryRunNone {
		return fmt.Errorf("--restart does not go with --dry-run")
	}
	return nil
}

// Run checks every namespace, changes the ServiceAccounts (undoing them all when one
// change fails), then reports the pods the change does not reach and restarts their
// workloads when asked.
func (o *AttachOptions) Run(ctx context.Context) error {
	namespaces, err := o.targetNamespaces(ctx)
	if err != nil {
		return err
	}
	targets := map[string][]string{}
	for _, ns := range namespaces {
		if targets[ns], err = o.targetServiceAccounts(ctx, ns); err != nil {
			return err
		}
	}
	edit, verb := serviceaccount.Attach, "attached"
	if o.detach {
		edit, verb = serviceaccount.Detach, "detached"
	}
	undo := &undoLog{client: o.client}
	for _, ns := range namespaces {
		for _, sa := range targets[ns] {
			if o.dryRun == dryRunClient {
				fmt.Fprintf(o.Out, "serviceaccount/%s in %s %s%s\n", sa, ns, verb, o.dryRun.suffix())
				continue
			}
			var e serviceaccount.Edit
			err := send(ctx, func(ctx context.Context) (err error) {
				e, err = edit(ctx, o.client, ns, sa, o.Secret, o.dryRun.serverDryRun())
				return err
			})
			if err != nil {
				return undo.rollback(ctx, o.ErrOut, err)
			}
			if o.dryRun == dryRunNone {
				undo.edited(e)
			}
			fmt.Fprintf(o.Out, "serviceaccount/%s in %s %s%s\n", sa, ns, attachVerb(e.Changed, verb), o.dryRun.suffix())
		}
	}
	if o.detach {
		return nil
	}
	var failures []string
	for _, ns := range namespaces {
		failures = append(failures, o.reportStale(ctx, ns, targets[ns])...)
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s is %s, but --restart failed: %s", o.Secret, verb, strings.Join(failures, "; "))
	}
	return nil
}

// targetNamespaces is -n, or with -A every namespace that has the Secret (attach) or
// a ServiceAccount that references it (detach, which also cleans up after a deleted
// Secret).
func (o *AttachOptions) targetNamespaces(ctx context.Context) ([]string, error) {
	if !o.AllNamespaces {
		if !o.detach {
			if err := o.checkSecret(ctx, o.namespace); err != nil {
				return nil, err
			}
		}
		return []string{o.namespace}, nil
	}
	var namespaces []string
	if o.detach {
		list, err := o.client.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list serviceaccounts in all namespaces: %w", err)
		}
		for _, sa := range list.Items {
			if slices.Contains(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: o.Secret}) && !slices.Contains(namespaces, sa.Namespace) {
				namespaces = append(namespaces, sa.Namespace)
			}
		}
	} else {
		list, err := o.client.CoreV1().Secrets("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + o.Secret})
		if err != nil {
			return nil, fmt.Errorf("find secret %s in all namespaces: %w", o.Secret, err)
		}
		for _, s := range list.Items {
			if err := usable(&s); err != nil {
				fmt.Fprintf(o.ErrOut, "warning: %v\n", err)
			}
			namespaces = append(namespaces, s.Namespace)
		}
	}
	slices.Sort(namespaces)
	if len(namespaces) == 0 {
		return nil, fmt.Errorf("no namespace has a Secret named %s", o.Secret)
	}
	return namespaces, nil
}

// checkSecret refuses a missing Secret and warns about one the kubelet cannot use.
func (o *AttachOptions) checkSecret(ctx context.Context, ns string) error {
	s, err := o.client.CoreV1().Secrets(ns).Get(ctx, o.Secret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("secret %s/%s does not exist: create it first (kubectl regcred create %s -n %s ...)", ns, o.Secret, o.Secret, ns)
	} else if err != nil {
		return fmt.Errorf("get secret %s/%s: %w", ns, o.Secret, err)
	}
	if err := usable(s); err != nil {
		fmt.Fprintf(o.ErrOut, "warning: %v\n", err)
	}
	return nil
}

// usable says why the kubelet would get nothing from a Secret, or nil.
func usable(s *corev1.Secret) error {
	if _, err := dockercfg.FromSecret(s); err != nil {
		return fmt.Errorf("%w: pods will get nothing from it (kubectl regcred show %s -n %s)", err, s.Name, s.Namespace)
	}
	return nil
}

// serviceAccounts resolves --serviceaccount in one namespace, checking that each exists.
func (o *AttachOptions) targetServiceAccounts(ctx context.Context, ns string) ([]string, error) {
	if slices.Contains(o.serviceAccounts, "*") {
		list, err := o.client.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list serviceaccounts in %s: %w", ns, err)
		}
		var names []string
		for _, sa := range list.Items {
			names = append(names, sa.Name)
		}
		return names, nil
	}
	for _, sa := range o.serviceAccounts {
		if _, err := o.client.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("serviceaccount %s/%s: %w", ns, sa, err)
		}
	}
	return o.serviceAccounts, nil
}

// reportStale lists the pods that will not see the Secret, and restarts their
// workloads when asked. It returns what was asked for and failed: each restart that
// failed, naming the workload and the reason, and a failure to find the workloads.
func (o *AttachOptions) reportStale(ctx context.Context, ns string, sas []string) []string {
	stale, err := serviceaccount.StalePods(ctx, o.client, ns, sas, o.Secret)
	if err != nil {
		if o.Restart {
			return []string{fmt.Sprintf("find the workloads to restart in %s: %v", ns, err)}
		}
		fmt.Fprintf(o.ErrOut, "warning: could not check the pods of %s: %v\n", ns, err)
		return nil
	}
	var restart []serviceaccount.Workload
	for _, p := range stale {
		switch {
		case p.OwnList:
			fmt.Fprintf(o.ErrOut, "pod %s/%s (%s) sets its own imagePullSecrets: the ServiceAccount's never reach it; add %s to the %s's pod template\n", ns, p.Pod, p.Owner, o.Secret, p.Owner.Kind)
		case p.Owner.Restartable():
			if !slices.Contains(restart, p.Owner) {
				restart = append(restart, p.Owner)
			}
			if !o.Restart {
				fmt.Fprintf(o.ErrOut, "pod %s/%s (%s) will not see %s until recreated: kubectl rollout restart %s -n %s (or rerun with --restart)\n", ns, p.Pod, p.Owner, o.Secret, p.Owner, ns)
			}
		default:
			fmt.Fprintf(o.ErrOut, "pod %s/%s (%s) will not see %s until recreated: delete it to have it recreated\n", ns, p.Pod, p.Owner, o.Secret)
		}
	}
	if !o.Restart {
		return nil
	}
	var failures []string
	now := metav1.NewTime(time.Now())
	for _, w := range restart {
		if err := serviceaccount.Restart(ctx, o.client, ns, w, now); err != nil {
			failures = append(failures, fmt.Sprintf("%v (retry: kubectl rollout restart %s -n %s)", err, w, ns))
			continue
		}
		fmt.Fprintf(o.Out, "%s in %s restarted\n", w, ns)
	}
	return failures
}
