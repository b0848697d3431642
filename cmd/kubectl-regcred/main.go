// Command kubectl-regcred is the regcred kubectl plugin: with this binary on PATH,
// `kubectl regcred ...` runs it.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/regcred/regcred/internal/cli"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Run(streams, os.Args[1:]))
}
