// Package credplugin builds the test credential provider plugin of ./cmd/credplugin,
// whose behaviour its environment chooses (see that command's documentation).
package credplugin

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Name is the plugin's file name in the folder Build writes it to.
const Name = "credplugin"

// Environment variables of the plugin.
const (
	EnvMode          = "CREDPLUGIN_MODE"
	EnvModeFile      = "CREDPLUGIN_MODE_FILE"
	EnvUsername      = "CREDPLUGIN_USERNAME"
	EnvPassword      = "CREDPLUGIN_PASSWORD"
	EnvIssuer        = "CREDPLUGIN_ISSUER"
	EnvKey           = "CREDPLUGIN_KEY"
	EnvCacheDuration = "CREDPLUGIN_CACHE_DURATION"
	EnvLog           = "CREDPLUGIN_LOG"
	EnvPIDFile       = "CREDPLUGIN_PID_FILE"
	EnvEcho          = "CREDPLUGIN_ECHO"
	EnvExit          = "CREDPLUGIN_EXIT"
)

// Modes of the plugin.
const (
	ModeOK        = "ok"
	ModeFail      = "fail"
	ModeHang      = "hang"
	ModeMalformed = "malformed"
	ModeWrongKind = "wrongkind"
)

var buildMu sync.Mutex

// Build compiles the plugin, static, for this machine into dir/credplugin and
// returns its path.
func Build(ctx context.Context, dir string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	_, self, _, _ := runtime.Caller(0)
	out := filepath.Join(dir, Name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/credplugin")
	cmd.Dir = filepath.Dir(self)
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test credential provider plugin: %w: %s", err, b)
	}
	return out, nil
}
