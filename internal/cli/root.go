package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewRootCmd returns the kubectl-regcred command with its subcommands.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{
		Use:   "kubectl-regcred",
		Short: "Create, check and diagnose image pull credentials",
		Long: `regcred makes image pull Secrets that work and explains why a pod cannot pull.

It reads Secrets, ServiceAccounts and pods the way the kubelet does, checks
credentials against the real registry, and never prints a password unless asked.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl regcred"},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	flags.AddFlags(cmd.PersistentFlags())
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see '%s --help')", err, c.CommandPath())
	})
	cmd.AddCommand(NewCmdVersion(flags, streams), NewCmdCreate(flags, streams), NewCmdShow(flags, streams),
		NewCmdAttach(flags, streams), NewCmdDetach(flags, streams),
		NewCmdMatch(flags, streams), NewCmdVerify(flags, streams), NewCmdDoctor(flags, streams), NewCmdStatus(flags, streams),
		NewCmdProbeRegistry(streams))
	return cmd
}

// Run runs kubectl-regcred with args, prints an error as one "error: ..." line on
// ErrOut, and returns the exit status. main and the in-process tests share it.
//
// The first interrupt (Ctrl-C) or SIGTERM cancels the command's context, so that a
// command that writes can undo what it wrote; a second one ends the process.
func Run(streams genericiooptions.IOStreams, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd := NewRootCmd(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(streams.ErrOut, "error:", err)
	}
	return ExitCode(err)
}
