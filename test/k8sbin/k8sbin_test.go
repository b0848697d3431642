package k8sbin

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConcurrentCallersShareOneBuild runs hack/k8s-bins.sh twice at once on an empty
// cache, as the test binaries of a bare `go test ./...` do: the second must wait for
// the first's build and reuse it, not build into the same folder. The build is real
// (links five binaries from the Go build cache); -short skips it.
func TestConcurrentCallersShareOneBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("links the Kubernetes binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cache := t.TempDir()
	command := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, "bash", buildScript())
		cmd.Env = append(os.Environ(), "REGCRED_CACHE="+cache)
		return cmd
	}

	first := command()
	var firstOut bytes.Buffer
	first.Stdout = &firstOut
	firstErr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// The second caller starts once the first is building, so it meets the lock.
	var firstLog strings.Builder
	sc := bufio.NewScanner(firstErr)
	for sc.Scan() {
		firstLog.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "building ") {
			break
		}
	}
	if firstLog.Len() == 0 || !strings.HasPrefix(lastLine(firstLog.String()), "building ") {
		t.Fatalf("the first caller ended without building:\n%s", firstLog.String())
	}
	second := command()
	var secondOut, secondLog bytes.Buffer
	second.Stdout, second.Stderr = &secondOut, &secondLog
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(firstErr)
	firstLog.Write(rest)
	if err := first.Wait(); err != nil {
		t.Fatalf("first caller: %v\n%s", err, firstLog.String())
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("second caller: %v\n%s", err, secondLog.String())
	}

	dir := strings.TrimSpace(firstOut.String())
	if got := strings.TrimSpace(secondOut.String()); got != dir || dir == "" {
		t.Fatalf("callers printed %q and %q, want the same folder", dir, got)
	}
	if n := strings.Count(firstLog.String()+secondLog.String(), "building kube-apiserver"); n != 1 {
		t.Errorf("kube-apiserver built %d times, want once:\nfirst:\n%s\nsecond:\n%s", n, firstLog.String(), secondLog.String())
	}
	if !strings.Contains(secondLog.String(), "waiting for another build") {
		t.Errorf("the second caller did not say it waited for the first's build:\n%s", secondLog.String())
	}
	for _, b := range []string{"kube-apiserver", "kubelet", "kube-controller-manager", "kube-scheduler", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s in %s: not an executable (%v)", b, dir, err)
		}
	}
	if partial, _ := filepath.Glob(filepath.Join(cache, "k8s", "*.partial.*")); len(partial) > 0 {
		t.Errorf("temporary build folders left: %v", partial)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
