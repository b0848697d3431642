// Package k8sbin finds the Kubernetes and etcd binaries that tests and the local
// cluster run: the folder named by REGCRED_K8S_BIN_DIR, or else the one
// hack/k8s-bins.sh builds (once per pinned version, cached outside the work tree).
package k8sbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// EnvDir names the environment variable that points at a folder of prebuilt binaries.
const EnvDir = "REGCRED_K8S_BIN_DIR"

var found struct {
	once sync.Once
	dir  string
	err  error
}

// Dir returns the folder with kube-apiserver, kubelet, kube-controller-manager,
// kube-scheduler and etcd, building them first when needed.
func Dir(ctx context.Context) (string, error) {
	found.once.Do(func() { found.dir, found.err = dir(ctx) })
	return found.dir, found.err
}

func dir(ctx context.Context) (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err != nil {
			return "", fmt.Errorf("%s=%s has no kube-apiserver: unset it or run hack/k8s-bins.sh: %w", EnvDir, d, err)
		}
		return d, nil
	}
	script := buildScript()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build Kubernetes binaries with %s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildScript is hack/k8s-bins.sh of this checkout. It builds under a file lock into
// a folder renamed into place when complete, so the test binaries of a bare
// `go test ./...` that ask at once wait for one build and share it.
func buildScript() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "hack", "k8s-bins.sh")
}

// Path returns the path of one binary in Dir.
func Path(ctx context.Context, name string) (string, error) {
	d, err := Dir(ctx)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name), nil
}
