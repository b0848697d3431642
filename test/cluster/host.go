package cluster

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sysctls are the kernel settings a cluster changes: forwarding (the CNI bridge
// plugin turns it on) and the tunables the kubelet sets at start (its
// setupKernelTunables: overcommit, panic on OOM and oops, reboot after panic, key quotas).
var sysctls = []string{
	"/proc/sys/net/ipv4/ip_forward",
	"/proc/sys/vm/overcommit_memory",
	"/proc/sys/vm/panic_on_oom",
	"/proc/sys/kernel/panic",
	"/proc/sys/kernel/panic_on_oops",
	"/proc/sys/kernel/keys/root_maxkeys",
	"/proc/sys/kernel/keys/root_maxbytes",
}

// hostPaths are where the daemons write outside the cluster's folder, at paths no
// setting moves: the kubelet's device plugin socket and container log links, the
// CNI result cache of containerd 1.6, the shims' sockets. What the cluster put there
// is removed by container id; a path that did not exist before the cluster started
// is removed whole.
var hostPaths = []string{"/var/lib/kubelet", "/var/log/containers", "/var/lib/cni", "/run/containerd"}

// shimSockets is where containerd 1.6 puts its shims' sockets, whatever its state
// folder: sha256 of "<containerd socket>/<namespace>/<id>" names each.
const shimSockets = "/run/containerd/s"

// criNamespace is the containerd namespace of the CRI plugin.
const criNamespace = "k8s.io"

// readSysctls returns the current values of sysctls.
func readSysctls() map[string]string {
	out := map[string]string{}
	for _, p := range sysctls {
		if b, err := os.ReadFile(p); err == nil {
			out[p] = string(b)
		}
	}
	return out
}

// absentHostPaths lists the host paths (cgroup folders of the CRI namespace
// included) that do not exist now.
func absentHostPaths() []string {
	var out []string
	for _, p := range append(hostPaths, cgroupDirs(criNamespace)...) {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// restoreHost undoes what the cluster changed on the host outside its folder, once
// its processes are gone: its iptables chains and rules, the kernel settings, and the
// files and cgroups its containers left.
func (s *stateFile) restoreHost() error {
	var errs []error
	for _, socket := range s.Sockets {
		errs = append(errs, removeContainerLeftovers(filepath.Dir(socket), socket))
	}
	errs = append(errs, removeLogLinks(s.Dir))
	if s.Rules != nil {
		errs = append(errs, undoRules(s.Rules, s.Bridges))
	}
	for p, v := range s.Sysctls {
		if cur, err := os.ReadFile(p); err == nil && string(cur) == v {
			continue
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", p, err))
		}
	}
	for _, p := range s.Absent {
		if strings.HasPrefix(p, "/sys/fs/cgroup/") {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", p, err))
			}
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// removeContainerLeftovers removes what a killed runtime's pods leave outside its
// folder runtimeDir: the shims' sockets, the CNI result cache and the cgroups of each
// sandbox and container.
func removeContainerLeftovers(runtimeDir, socket string) error {
	var errs []error
	for _, id := range containerIDs(runtimeDir) {
		sum := sha256.Sum256([]byte(filepath.Join(socket, criNamespace, id)))
		if err := os.Remove(filepath.Join(shimSockets, fmt.Sprintf("%x", sum))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove the socket of shim %s: %w", id, err))
		}
		cached, _ := filepath.Glob(filepath.Join("/var/lib/cni/results", "*-"+id+"-*"))
		for _, f := range cached {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove CNI result %s: %w", f, err))
			}
		}
		for _, d := range cgroupDirs(criNamespace, id) {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// containerIDs lists the sandboxes and containers a runtime folder knows of.
func containerIDs(runtimeDir string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, d := range []string{
		filepath.Join(runtimeDir, "state", "io.containerd.runtime.v2.task", criNamespace),
		filepath.Join(runtimeDir, "root", "io.containerd.grpc.v1.cri", "sandboxes"),
		filepath.Join(runtimeDir, "root", "io.containerd.grpc.v1.cri", "containers"),
	} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if e.IsDir() && !seen[e.Name()] {
				seen[e.Name()] = true
				ids = append(ids, e.Name())
			}
		}
	}
	return ids
}

// removeLogLinks removes the kubelet's links in /var/log/containers that point into dir.
func removeLogLinks(dir string) error {
	entries, err := os.ReadDir("/var/log/containers")
	if err != nil {
		return nil
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join("/var/log/containers", e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, dir+"/") {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove log link %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// cgroupDirs returns, for every mounted cgroup hierarchy, the folder at path elems.
func cgroupDirs(elems ...string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// mount ID, parent, major:minor, root, mount point, options, optional fields..., "-", fstype, ...
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && len(fields) > 4 {
				if fs := fields[i+1]; fs == "cgroup" || fs == "cgroup2" {
					out = append(out, filepath.Join(append([]string{unescapeMount(fields[4])}, elems...)...))
				}
				break
			}
		}
	}
	return out
}
