package dockercfg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Errors of credential helpers.
var (
	ErrHelperNotFound   = errors.New("credential helper not found")
	ErrNoHelperCreds    = errors.New("the credential helper has no credentials for this registry")
	ErrIdentityToken    = errors.New("the credential helper holds an identity token, which the kubelet cannot use")
	ErrHelperFailed     = errors.New("credential helper failed")
	helperTimeout       = 10 * time.Second
	identityTokenMarker = "<token>"
)

// HelperFor returns the credential helper a docker config names for a registry key:
// the credHelpers entry for it, else credsStore, else "".
func (c *Config) HelperFor(key string) string {
	if h, ok := c.CredHelpers[key]; ok {
		return h
	}
	return c.CredsStore
}

// FromHelper asks docker-credential-<helper> for the credential of serverURL with the
// docker credential helper protocol: "get", the server URL on stdin, JSON
// {"ServerURL", "Username", "Secret"} on stdout.
func FromHelper(ctx context.Context, helper, serverURL string) (Credential, error) {
	prog := "docker-credential-" + helper
	path, err := exec.LookPath(prog)
	if err != nil {
		return Credential{}, fmt.Errorf("%w: %s is not on PATH", ErrHelperNotFound, prog)
	}
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "get")
	cmd.Stdin = strings.NewReader(serverURL)
	// A helper that leaves a child holding its output (an agent it started) must not
	// keep us waiting past the timeout.
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// Helpers print "credentials not found in native keychain" on stdout when
		// they have none. Their output is not echoed otherwise: it may hold a secret.
		if strings.Contains(stdout.String(), "credentials not found") || strings.Contains(stderr.String(), "credentials not found") {
			return Credential{}, fmt.Errorf("%s get %s: %w", prog, serverURL, ErrNoHelperCreds)
		}
		if ctx.Err() != nil {
			return Credential{}, fmt.Errorf("%s get %s: %w: no answer within %s", prog, serverURL, ErrHelperFailed, helperTimeout)
		}
		return Credential{}, fmt.Errorf("%s get %s: %w: %v", prog, serverURL, ErrHelperFailed, err)
	}
	var out struct {
		ServerURL string
		Username  string
		Secret    string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Credential{}, fmt.Errorf("%s get %s: %w: its answer is not the helper protocol's JSON", prog, serverURL, ErrHelperFailed)
	}
	if out.Username == identityTokenMarker {
		return Credential{}, fmt.Errorf("%s get %s: %w", prog, serverURL, ErrIdentityToken)
	}
	return Credential{Username: out.Username, Password: out.Secret}, nil
}
