//go:build e2e

package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/test/cluster"
)

// TestDemoInterruptedWithBrokenOutput is `make demo | tee demo.log`, then Ctrl-C: the
// demo runs with its stdout a pipe nobody reads (tee died of the same SIGINT) and,
// once it is up, its stderr too (the terminal is gone). SIGINT to its process group
// must stop the cluster and leave the host as it was before the demo started.
func TestDemoInterruptedWithBrokenOutput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	demo := filepath.Join(t.TempDir(), "regcred-demo")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", demo, "github.com/regcred/regcred/test/demo").CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	before := snapshotHost(t)

	cmd := exec.Command(demo)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutR.Close() // the reader is gone before the first line
	cmd.Stdout = stdoutW
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	exited := make(chan error, 1)
	ready, log := readUntil(stderr, "demo: ready")
	go func() {
		<-ready.done
		exited <- cmd.Wait()
	}()
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	select {
	case <-ready.found:
	case <-ready.done:
		t.Fatalf("the demo ended before it was ready: %v\n%s", <-exited, log())
	case <-ctx.Done():
		t.Fatalf("the demo was not ready in time:\n%s", log())
	}
	dir := clusterDir(t, log())
	during := snapshotHost(t, dir)
	for _, k := range []string{"process", "mount", "link", "route", "iptables"} {
		if !slices.Contains(before.changed(during), k) {
			t.Fatalf("the running demo changed no %s: this test would see nothing left behind", k)
		}
	}
	stderr.(io.Closer).Close() // and now its terminal is gone

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws := exit.Sys().(syscall.WaitStatus); ws.Signaled() {
				t.Fatalf("the demo died of %v while stopping\n%s", ws.Signal(), log())
			}
		}
		if err != nil {
			t.Errorf("the demo ended with %v after SIGINT", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the demo still runs 3 minutes after SIGINT")
	}
	if left := before.diff(snapshotHost(t, dir)); len(left) > 0 {
		t.Errorf("the host differs after the demo stopped:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("cluster folder %s left", dir)
	}
}

// TestKilledHarnessDaemonsDie runs a cluster in a child process (this test binary,
// TestChildCluster) with a pod, then SIGKILLs the child: every daemon it started must
// die with it, and the next Start must remove what remains (the shims and the pod,
// mounts, bridge, rules) so that after that cluster's Stop the host is as before.
func TestKilledHarnessDaemonsDie(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	before := snapshotHost(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildCluster$", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready, log := readUntil(stderr, "child: ready")
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case <-ready.found:
	case <-ready.done:
		t.Fatalf("the child ended before its cluster was ready:\n%s", log())
	case <-ctx.Done():
		t.Fatalf("the child's cluster was not ready in time:\n%s", log())
	}
	dir := clusterDir(t, log())
	var pids []int
	for _, f := range strings.Fields(after(log(), "child: ready pids=")) {
		if pid, err := strconv.Atoi(strings.Trim(f, ",")); err == nil {
			pids = append(pids, pid)
		} else {
			break
		}
	}
	if len(pids) < 6 {
		t.Fatalf("child reported daemons %v, want etcd, the control plane, containerd and the kubelet", pids)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if running(pid) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("daemon %d (%s) outlived the harness process by 15s", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	leftover := snapshotHost(t, dir)
	t.Logf("left by the killed harness, for the next start to remove: %v", before.changed(leftover))

	c, err := cluster.Start(ctx, cluster.Options{Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if left := clusterProcesses([]string{dir}); len(left) > 0 {
		t.Errorf("processes of the killed cluster still run after the next Start: %v", left)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("the killed cluster's folder %s is still there after the next Start", dir)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := before.diff(snapshotHost(t, dir, c.Dir)); len(left) > 0 {
		t.Errorf("the host differs after the next cluster stopped:\n%s", strings.Join(left, "\n"))
	}
}

const childEnv = "REGCRED_TEST_CHILD_CLUSTER"

// TestChildCluster is the harness process of TestKilledHarnessDaemonsDie: it starts a
// cluster with a running pod, reports it, and waits to be killed.
func TestChildCluster(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run by TestKilledHarnessDaemonsDie")
	}
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "left", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: c.PauseImage}}},
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitForPod(ctx, c.Client, "default", "left", cluster.PodRunning); err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, p := range c.Pids() {
		pids = append(pids, strconv.Itoa(p))
	}
	fmt.Fprintf(os.Stderr, "child: ready pids=%s\n", strings.Join(pids, " "))
	select {}
}

type lineWatch struct{ found, done chan struct{} }

// readUntil reads r line by line in the background: found closes at the first line
// with prefix, done at the end of r. log returns what was read so far.
func readUntil(r io.Reader, prefix string) (lineWatch, func() string) {
	w := lineWatch{found: make(chan struct{}), done: make(chan struct{})}
	var mu sync.Mutex
	var b strings.Builder
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(r)
		seen := false
		for sc.Scan() {
			mu.Lock()
			b.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !seen && strings.HasPrefix(sc.Text(), prefix) {
				seen = true
				close(w.found)
			}
		}
	}()
	return w, func() string {
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

// clusterDir finds the cluster's folder in the harness's progress lines.
func clusterDir(t *testing.T, log string) string {
	t.Helper()
	kc := after(log, "KUBECONFIG=")
	if kc == "" {
		t.Fatalf("no KUBECONFIG line in:\n%s", log)
	}
	return filepath.Dir(filepath.Dir(strings.Fields(kc)[0]))
}

// after returns the rest of the first line of log that holds marker, after it.
func after(log, marker string) string {
	i := strings.Index(log, marker)
	if i < 0 {
		return ""
	}
	rest := log[i+len(marker):]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return rest
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
