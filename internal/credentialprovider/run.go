package credentialprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	credv1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1"
)

// Limits of a plugin run.
const (
	// DefaultTimeout is the kubelet's limit for one plugin run.
	DefaultTimeout = time.Minute
	// maxStdout bounds the response read; a larger one is an error.
	maxStdout = 1 << 20
	// maxStderr bounds the stderr kept; the rest is dropped.
	maxStderr = 16 << 10
	// waitDelay is how long the pipes stay open after the plugin exits or is killed,
	// for a child that still holds them.
	waitDelay = 2 * time.Second
)

// Plugin is one plugin to run.
type Plugin struct {
	// BinDir is the folder of plugin binaries (--credential-provider-bin-dir).
	BinDir string
	// Name is the plugin's file name in BinDir.
	Name string
	Args []string
	// Env is added to the controller's own environment, later entries winning.
	Env []EnvVar
	// Timeout bounds a run; DefaultTimeout when zero.
	Timeout time.Duration
}

// EnvVar is one environment variable.
type EnvVar struct{ Name, Value string }

// Request is what the plugin is asked.
type Request struct {
	Image string
	// ServiceAccountToken is secret: it is redacted from error text.
	ServiceAccountToken string
}

// Error is a failed run. Its text names the plugin and the cause, and carries the
// plugin's stderr with credentials redacted.
type Error struct {
	Plugin string
	Err    error
	// Stderr is what the plugin wrote on stderr, redacted and cut to its last 1 KiB.
	Stderr string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("credential provider plugin %s: %v", e.Plugin, e.Err)
	if e.Stderr != "" {
		msg += "; stderr: " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errors a run wraps.
var (
	ErrTimeout    = errors.New("killed at its time limit")
	ErrNoPlugin   = errors.New("no such plugin")
	ErrBigOutput  = errors.New("response larger than 1 MiB")
	ErrPluginName = errors.New("plugin name is not a plain file name")
)

// Path returns the plugin's path, refusing a name that is not a plain file name.
func (p Plugin) Path() (string, error) {
	if p.Name == "" || p.Name == "." || p.Name == ".." || filepath.Base(p.Name) != p.Name {
		return "", fmt.Errorf("%w: %q", ErrPluginName, p.Name)
	}
	if p.BinDir == "" {
		return "", fmt.Errorf("%w: %s: the controller has no --credential-provider-bin-dir", ErrNoPlugin, p.Name)
	}
	path := filepath.Join(p.BinDir, p.Name)
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s in %s (mount it into --credential-provider-bin-dir): %w", ErrNoPlugin, p.Name, p.BinDir, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file", ErrNoPlugin, path)
	}
	return path, nil
}

// Run runs the plugin once and returns the credential it gave for req.Image. A run
// that outlives the timeout is killed with its whole process group. Errors are
// *Error, with secrets redacted: the service account token, the passwords in known
// (those minted before, for instance) and those of whatever response the plugin
// printed.
func (p Plugin) Run(ctx context.Context, req Request, known ...string) (*Credential, error) {
	secrets := append([]string{req.ServiceAccountToken}, known...)
	stdout, stderr := &capped{max: maxStdout}, &capped{max: maxStderr}
	fail := func(err error) error {
		// Whatever the plugin printed as its response, refused or cut short, its
		// passwords may be repeated on stderr.
		return &Error{Plugin: p.Name, Err: err, Stderr: Redact(stderr.String(), append(secrets, responsePasswords(stdout.Bytes())...)...)}
	}
	path, err := p.Path()
	if err != nil {
		return nil, fail(err)
	}
	in, err := json.Marshal(credv1.CredentialProviderRequest{
		TypeMeta:            metav1.TypeMeta{APIVersion: APIVersion, Kind: requestKind},
		Image:               req.Image,
		ServiceAccountToken: req.ServiceAccountToken,
	})
	if err != nil {
		return nil, fail(fmt.Errorf("encode the request: %w", err))
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, path, p.Args...)
	cmd.Dir = p.BinDir
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	env := os.Environ()
	for _, e := range p.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	cmd.Env = env
	// Its own process group, so that a kill reaches every process it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	switch {
	case rctx.Err() != nil && ctx.Err() == nil:
		return nil, fail(fmt.Errorf("%w of %s", ErrTimeout, timeout))
	case ctx.Err() != nil:
		return nil, fail(ctx.Err())
	case err != nil:
		return nil, fail(fmt.Errorf("run %s: %w", path, err))
	case stdout.over:
		return nil, fail(ErrBigOutput)
	}
	c, err := ParseResponse(stdout.Bytes(), req.Image)
	if err != nil {
		return nil, fail(err)
	}
	return c, nil
}

// capped keeps the first max bytes written to it and notes that there were more.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room < len(p) {
		c.over = true
		if room > 0 {
			c.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return c.Buffer.Write(p)
}
