// Command demo is `make demo`: it starts the local cluster, seeds it with broken and
// healthy workloads that private-registry users meet every day, prints the KUBECONFIG
// line, and keeps the cluster up until Ctrl-C. With -once it stops after seeding and
// checking, for CI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/regcred/regcred/internal/cli"
	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/registry"
)

func main() {
	once := flag.Bool("once", false, "stop the cluster after seeding and checking the workloads")
	flag.Parse()
	if err := run(*once); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(once bool) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// `make demo | tee demo.log` then Ctrl-C: tee dies of the same SIGINT, and Go
	// kills a program whose write to a broken stdout or stderr raises SIGPIPE unless
	// SIGPIPE is asked for. Asked for here (and never read), such writes just fail and
	// the cluster is still stopped. Notify rather than Ignore: an ignored SIGPIPE
	// would be inherited by every daemon the cluster starts.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "demo: stopping the cluster")
		if stopErr := c.Stop(); stopErr != nil {
			err = stopErr
		}
	}()
	fmt.Fprintf(os.Stderr, "demo: cluster up in %s, seeding workloads\n", time.Since(start).Round(100*time.Millisecond))
	results, image, err := seed(ctx, c)
	if err != nil {
		return err
	}
	printResults(os.Stdout, results)
	for _, r := range results {
		if r.err != nil {
			return fmt.Errorf("the %s workload did not reach its expected state: %w", r.namespace, r.err)
		}
	}
	fmt.Println("\n$ kubectl regcred doctor -A")
	if code := doctor(c.Kubeconfig); code != cli.ExitFailed {
		return fmt.Errorf("doctor -A exited %d on the seeded failures, want %d", code, cli.ExitFailed)
	}
	if once {
		fmt.Println("\n-once: every workload reached its expected state and doctor explained it; stopping.")
		return nil
	}
	r := c.Registries
	fmt.Printf(`
Registries on this machine (throwaway accounts made for this run):
  basic auth  %s   alice / %s
  token auth  %s   alice may pull team/*, bob (%s) nothing
  TLS         %s   its CA is not trusted by the node

The cluster is yours. In another terminal:

  export KUBECONFIG=%s
  kubectl get pods -A
  kubectl regcred match %s -n demo-wrong-host --secret regcred
  kubectl regcred verify regcred -n demo-wrong-password --image %s
  printf '%%s' '%s' | kubectl regcred create regcred -n demo-wrong-password \
      --server %s --username alice --password-stdin --overwrite
  kubectl get pods -n demo-wrong-password -w    # the kubelet reads the Secret again at its next retry

`, r.Basic.Host, r.Passwords[registry.UserAlice], r.Token.Host, r.Passwords[registry.UserBob], r.TLS.Host,
		c.Kubeconfig, image, image, r.Passwords[registry.UserAlice], r.Basic.Host)
	fmt.Println("Ctrl-C here stops the cluster and removes everything it started.")
	fmt.Fprintln(os.Stderr, "demo: ready; Ctrl-C stops the cluster")
	<-ctx.Done()
	return nil
}

// doctor runs `kubectl regcred doctor -A` in-process and returns its exit status.
func doctor(kubeconfig string) int {
	return cli.Run(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, []string{"--kubeconfig", kubeconfig, "doctor", "-A"})
}
