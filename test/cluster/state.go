package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// stateDir holds one state file per bridge: what a running cluster has started and
// changed, so that the next Start can undo it if that cluster's process was killed
// before Stop ran (a test binary's timeout, kill -9).
const stateDir = "/run/regcred"

// daemons are the programs the harness starts; a recorded pid is only killed when it
// still runs one of them.
var daemons = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "containerd"}

type stateFile struct {
	mu          sync.Mutex
	path        string
	Owner       int      `json:"owner"`
	Dir         string   `json:"dir"`
	Pids        []int    `json:"pids"`
	Bridges     []string `json:"bridges,omitempty"`
	ServiceCIDR string   `json:"serviceCIDR,omitempty"`
	Sockets     []string `json:"sockets,omitempty"`
	// What the host had before the cluster started, to put back: kernel settings,
	// iptables-save output by front end, host paths that did not exist.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	Rules   map[string]string `json:"rules,omitempty"`
	Absent  []string          `json:"absent,omitempty"`
}

// claimState takes the state file of a bridge, cleaning up after a dead owner first.
func claimState(bridge, dir string) (*stateFile, error) {
	path := filepath.Join(stateDir, bridge+".json")
	if b, err := os.ReadFile(path); err == nil {
		var old stateFile
		if err := json.Unmarshal(b, &old); err == nil {
			if old.Owner != os.Getpid() && alive(old.Owner) {
				return nil, fmt.Errorf("a local cluster started by pid %d (folder %s) is running on bridge %s: stop it first (Ctrl-C where it runs, or kill %d)", old.Owner, old.Dir, bridge, old.Owner)
			}
			if err := old.reap(); err != nil {
				return nil, fmt.Errorf("clean up after the killed cluster of pid %d: %w", old.Owner, err)
			}
		}
	}
	rules, err := saveRules()
	if err != nil {
		return nil, err
	}
	s := &stateFile{path: path, Owner: os.Getpid(), Dir: dir, Sysctls: readSysctls(), Rules: rules, Absent: absentHostPaths()}
	return s, s.save()
}

func (s *stateFile) addPid(pid int) {
	s.mu.Lock()
	s.Pids = append(s.Pids, pid)
	s.mu.Unlock()
	_ = s.save()
}

func (s *stateFile) setNetwork(bridges []string, serviceCIDR string) {
	s.mu.Lock()
	s.Bridges, s.ServiceCIDR = bridges, serviceCIDR
	s.mu.Unlock()
	_ = s.save()
}

func (s *stateFile) addRuntime(socket string) {
	s.mu.Lock()
	s.Sockets = append(s.Sockets, socket)
	s.mu.Unlock()
	_ = s.save()
}

func (s *stateFile) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode cluster state: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	if err := os.WriteFile(s.path, b, 0o600); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	return nil
}

// release removes the state file after a clean stop.
func (s *stateFile) release() error {
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cluster state: %w", err)
	}
	return nil
}

// reap undoes what a killed cluster left: its daemons, containers, mounts, network
// settings, what it changed on the host, and its folder.
func (s *stateFile) reap() error {
	var errs []error
	for _, pid := range s.Pids {
		if runsDaemon(pid) {
			errs = append(errs, killTree(pid))
		}
	}
	for _, socket := range s.Sockets {
		errs = append(errs, killShims(socket))
	}
	errs = append(errs, unmountUnder(s.Dir))
	for _, b := range s.Bridges {
		_ = run("ip", "link", "del", b)
		_ = run("iptables", "-D", "FORWARD", "-i", b, "!", "-o", b, "-j", "DROP")
	}
	if s.ServiceCIDR != "" {
		_ = run("ip", "route", "del", "blackhole", s.ServiceCIDR)
	}
	errs = append(errs, s.restoreHost())
	if strings.HasPrefix(filepath.Base(s.Dir), "regcred-cluster-") {
		errs = append(errs, os.RemoveAll(s.Dir))
	}
	errs = append(errs, s.release())
	return errors.Join(errs...)
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// runsDaemon reports whether pid is one of the harness's daemons.
func runsDaemon(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	return slices.Contains(daemons, base)
}
