package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
)

// hostTools maps the programs the cluster needs to the Debian packages that ship them.
var hostTools = []struct{ path, pkg string }{
	{"/usr/bin/containerd", "containerd"},
	{"/usr/sbin/runc", "runc"},
	{"/usr/lib/cni/bridge", "containernetworking-plugins"},
	{"/usr/lib/cni/host-local", "containernetworking-plugins"},
	{"/usr/sbin/iptables", "iptables"},
	{"/usr/sbin/ip", "iproute2"},
}

var installOnce sync.Once

// ensureHostTools installs the Debian packages of any missing program.
func ensureHostTools() (err error) {
	installOnce.Do(func() {
		var missing []string
		for _, t := range hostTools {
			if _, statErr := os.Stat(t.path); statErr != nil && !slices.Contains(missing, t.pkg) {
				missing = append(missing, t.pkg)
			}
		}
		if len(missing) == 0 {
			return
		}
		if out, e := exec.Command("apt-get", "update", "-qq").CombinedOutput(); e != nil {
			err = fmt.Errorf("apt-get update: %w: %s", e, out)
			return
		}
		cmd := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("install %s: %w: %s", strings.Join(missing, " "), e, out)
		}
	})
	return err
}
