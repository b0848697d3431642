// Package helmbin finds the helm binary that the chart tests and the end-to-end suites
// run: the file named by REGCRED_HELM, or else the one hack/helm.sh builds from the
// pinned tools module hack/tools/helm (once per pin, cached outside the work tree).
package helmbin

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

// EnvPath names the environment variable that points at a prebuilt helm.
const EnvPath = "REGCRED_HELM"

var found struct {
	once sync.Once
	path string
	err  error
}

// Path returns the path of the pinned helm, building it first when needed (about four
// minutes on 2 cores, cold).
func Path(ctx context.Context) (string, error) {
	found.once.Do(func() { found.path, found.err = path(ctx) })
	return found.path, found.err
}

func path(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: unset it or run hack/helm.sh: %w", EnvPath, p, err)
		}
		return p, nil
	}
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "hack", "helm.sh")
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build helm with %s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}
