//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/regcred/regcred/test/cluster"
)

// local is the cluster every test of the package shares; each test works in
// namespaces of its own.
var local *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	c, err := cluster.Start(context.Background(), cluster.Options{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local cluster:", err)
		return 1
	}
	local = c
	code := m.Run()
	if code != 0 {
		for _, d := range []string{"kubelet", "containerd"} {
			fmt.Fprintf(os.Stderr, "--- last lines of the %s log:\n%s\n", d, c.LogTail(d, 25))
		}
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}
