package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a daemon the harness started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// spawn runs functions on one goroutine locked to its OS thread for the life of the
// process. Daemons are started there because their parent-death signal (Pdeathsig)
// fires when the thread that forked them ends, not the process: Go ends a thread when
// a goroutine that locked it returns, which any library may do, so a daemon forked
// from an ordinary goroutine could be killed while the harness still runs. This
// thread never ends before the process does.
var spawn = sync.OnceValue(func() chan<- func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread()
		for f := range ch {
			f()
		}
	}()
	return ch
})

// startOnSpawner runs cmd.Start on the spawner thread.
func startOnSpawner(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	spawn() <- func() { done <- cmd.Start() }
	return <-done
}

// startProc starts a daemon in its own process group (so that the terminal's Ctrl-C
// reaches only the harness, which then stops it in order) with its output in
// logDir/name.log. The kernel SIGKILLs it if the harness process dies first (kill -9,
// a test binary's time-out): the daemons never outlive the harness; what they leave
// (containers, mounts, network) the state file lets the next Start undo.
func startProc(logDir, name, path string, args ...string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOnSpawner(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after the grace period.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("stop %s (pid %d): still running after SIGKILL", p.name, pgid)
		}
	}
	return nil
}

// failure describes why a daemon ended early, with the end of its log.
func (p *proc) failure() error {
	return fmt.Errorf("%s exited: %v; last lines of %s:\n%s", p.name, p.err, p.log, tail(p.log, 15))
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n++
			if n > lines {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// killTree kills pid and every process descended from it.
func killTree(pid int) error {
	children := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "%d", &p); err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var errs []error
	tree := descendants(pid, children)
	for _, p := range tree {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", p, err))
		}
	}
	// SIGKILL is delivered asynchronously: wait until each process is gone or a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range tree {
		for running(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if running(p) {
			errs = append(errs, fmt.Errorf("process %d still runs after SIGKILL", p))
		}
	}
	return errors.Join(errs...)
}

func descendants(pid int, children map[int][]int) []int {
	out := []int{pid}
	for _, c := range children[pid] {
		out = append(out, descendants(c, children)...)
	}
	return out
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// parentOf returns the parent process id from /proc/PID/stat.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold spaces: read after the last ')'.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			var state string
			var ppid int
			if _, err := fmt.Sscanf(string(b[i+1:]), " %s %d", &state, &ppid); err != nil {
				return 0, false
			}
			return ppid, true
		}
	}
	return 0, false
}
