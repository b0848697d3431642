package cluster

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// network is the host side of the cluster network and how to undo it.
type network struct {
	undo []func() error
}

// setupNetwork makes a bridge per node with the node's address, and the two safety
// nets of local-cluster.md: a blackhole route for the Service range and, per bridge,
// a FORWARD rule that drops whatever would leave it. Nothing else may leave through it: the CNI
// config gives pods no default route and no masquerade.
func setupNetwork(bridges []node, serviceCIDR string) (_ *network, err error) {
	n := &network{}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.teardown())
		}
	}()
	if err := run("ip", "route", "replace", "blackhole", serviceCIDR); err != nil {
		return nil, err
	}
	n.undo = append(n.undo, func() error { return run("ip", "route", "del", "blackhole", serviceCIDR) })
	for _, b := range bridges {
		if err := n.addBridge(b.Bridge, b.cidr); err != nil {
			return nil, err
		}
	}
	// The bridge plugin turns forwarding on: the state file puts back what the
	// machine had (restoreHost).
	return n, nil
}

// addBridge makes one node's bridge with the node address, and drops whatever would
// be forwarded out of it.
func (n *network) addBridge(bridge, nodeCIDR string) error {
	if _, err := net.InterfaceByName(bridge); err == nil {
		return fmt.Errorf("bridge %s already exists: another local cluster runs on this machine, or one was killed before it stopped (remove it with: ip link del %s)", bridge, bridge)
	}
	if err := run("ip", "link", "add", bridge, "type", "bridge"); err != nil {
		return err
	}
	n.undo = append(n.undo, func() error { return run("ip", "link", "del", bridge) })
	if err := run("ip", "addr", "add", nodeCIDR, "dev", bridge); err != nil {
		return err
	}
	if err := run("ip", "link", "set", bridge, "up"); err != nil {
		return err
	}
	drop := []string{"FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "DROP"}
	if err := run("iptables", append([]string{"-I"}, drop...)...); err != nil {
		return err
	}
	n.undo = append(n.undo, func() error { return run("iptables", append([]string{"-D"}, drop...)...) })
	return nil
}

// teardown undoes the setup in reverse order.
func (n *network) teardown() error {
	var errs []error
	for i := len(n.undo) - 1; i >= 0; i-- {
		errs = append(errs, n.undo[i]())
	}
	n.undo = nil
	return errors.Join(errs...)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
