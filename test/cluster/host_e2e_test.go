//go:build e2e

package cluster_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostState is what a cluster may change on the machine outside its folder: the
// processes it runs (by command line naming its folder, or in a CRI cgroup), mounts,
// network links, routes, iptables chains and rules, kernel settings, and the files
// the kubelet, containerd and the shims write at fixed host paths.
type hostState map[string][]string

// hostKinds are the kinds of hostState, in the order they are reported.
var hostKinds = []string{"process", "mount", "link", "route", "iptables", "sysctl", "file", "cgroup"}

// snapshotHost records the host. clusterDirs names the folders of clusters whose
// processes count (others' tests may run their own etcd and API servers).
func snapshotHost(t *testing.T, clusterDirs ...string) hostState {
	t.Helper()
	s := hostState{}
	s["process"] = clusterProcesses(clusterDirs)
	s["mount"] = mountPoints(t)
	s["link"] = lines(t, "ip", "-o", "link", "show")
	for i, l := range s["link"] {
		// "3: regcred0: <...> ... state UP ..." : keep the name, not the changing state.
		if f := strings.Fields(l); len(f) > 1 {
			s["link"][i] = strings.TrimSuffix(f[1], ":")
		}
	}
	s["route"] = append(lines(t, "ip", "route", "show", "table", "all"), lines(t, "ip", "-6", "route", "show", "table", "all")...)
	for _, f := range []string{"iptables", "ip6tables"} {
		table := ""
		for _, l := range lines(t, f+"-save") {
			switch {
			case strings.HasPrefix(l, "#"):
				continue
			case strings.HasPrefix(l, "*"):
				table = l
			case strings.HasPrefix(l, ":"):
				l = strings.Join(strings.Fields(l)[:2], " ") // no counters
			}
			s["iptables"] = append(s["iptables"], f+" "+table+" "+l)
		}
	}
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/vm/overcommit_memory", "/proc/sys/vm/panic_on_oom",
		"/proc/sys/kernel/panic", "/proc/sys/kernel/panic_on_oops", "/proc/sys/kernel/keys/root_maxkeys", "/proc/sys/kernel/keys/root_maxbytes"} {
		b, _ := os.ReadFile(p)
		s["sysctl"] = append(s["sysctl"], p+"="+strings.TrimSpace(string(b)))
	}
	for _, root := range []string{"/run/containerd", "/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/var/log/containers", "/run/regcred", "/etc/cni", "/opt/cni", "/run/netns", "/var/run/netns"} {
		_ = filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				s["file"] = append(s["file"], p)
			}
			return nil
		})
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/k8s.io*")
	more, _ := filepath.Glob("/sys/fs/cgroup/*/k8s.io/*")
	for _, c := range append(cgroups, more...) {
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			s["cgroup"] = append(s["cgroup"], c)
		}
	}
	for k := range s {
		slices.Sort(s[k])
		s[k] = slices.Compact(s[k])
	}
	return s
}

// diff lists what after has that s has not (+) and what s has that after has not (-).
func (s hostState) diff(after hostState) []string {
	var out []string
	for _, k := range hostKinds {
		for _, v := range after[k] {
			if _, found := slices.BinarySearch(s[k], v); !found {
				out = append(out, fmt.Sprintf("+ %s %s", k, v))
			}
		}
		for _, v := range s[k] {
			if _, found := slices.BinarySearch(after[k], v); !found {
				out = append(out, fmt.Sprintf("- %s %s", k, v))
			}
		}
	}
	return out
}

// changed lists the kinds in which after differs from s.
func (s hostState) changed(after hostState) []string {
	var kinds []string
	for _, d := range s.diff(after) {
		if k := strings.Fields(d)[1]; !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// clusterProcesses lists the living processes whose command line names one of dirs,
// or that run in a cgroup of the CRI namespace (the pods' containers).
func clusterProcesses(dirs []string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		cgroup, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		ours := strings.Contains(string(cgroup), ":/k8s.io/")
		for _, d := range dirs {
			ours = ours || strings.Contains(args, d)
		}
		if ours {
			out = append(out, e.Name()+" "+args)
		}
	}
	return out
}

func mountPoints(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 {
			out = append(out, fields[4])
		}
	}
	return out
}

func lines(t *testing.T, name string, args ...string) []string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
