//go:build e2e

package e2enodes

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/registry"
)

var local *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	c, err := cluster.Start(context.Background(), cluster.Options{Nodes: 3, Progress: os.Stderr, Node: []cluster.NodeOptions{
		{LoginAs: registry.UserAlice, TrustTLSRegistry: true},
		{},
		{PrivateSandbox: true},
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local cluster:", err)
		return 1
	}
	local = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

// regcred runs `kubectl regcred ARGS...` in-process against the cluster.
func regcred(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return local.Regcred(stdin, args...)
}
