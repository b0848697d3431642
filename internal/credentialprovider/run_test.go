package credentialprovider_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regcred/regcred/internal/credentialprovider"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/credplugin"
)

var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "regcred-credplugin-")
	if err != nil {
		panic(err)
	}
	if _, err := credplugin.Build(context.Background(), dir); err != nil {
		panic(err)
	}
	pluginDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestRun(t *testing.T) {
	const image = "reg.example.com:5000/team/app:1"
	tests := []struct {
		name    string
		env     map[string]string
		timeout time.Duration
		wantErr error
		// inErr must be in the error text; notInErr never.
		inErr, notInErr []string
	}{
		{name: "ok", env: map[string]string{credplugin.EnvUsername: "AWS", credplugin.EnvPassword: "tok-1", credplugin.EnvCacheDuration: "6h"}},
		{name: "fails", env: map[string]string{credplugin.EnvMode: credplugin.ModeFail},
			inErr: []string{"exit status 3", "token service refused us", "password=REDACTED"}, notInErr: []string{"hunter2"}},
		{name: "hangs", env: map[string]string{credplugin.EnvMode: credplugin.ModeHang}, timeout: 500 * time.Millisecond,
			wantErr: credentialprovider.ErrTimeout, inErr: []string{"killed at its time limit of 500ms"}},
		{name: "malformed JSON", env: map[string]string{credplugin.EnvMode: credplugin.ModeMalformed},
			wantErr: credentialprovider.ErrResponse, inErr: []string{"not a JSON CredentialProviderResponse"}},
		{name: "wrong kind", env: map[string]string{credplugin.EnvMode: credplugin.ModeWrongKind},
			wantErr: credentialprovider.ErrResponse, inErr: []string{`kind "CredentialProviderRequest"`}},
		{name: "key the kubelet would not use for the image", env: map[string]string{credplugin.EnvKey: "other.example.com", credplugin.EnvPassword: "p"},
			wantErr: credentialprovider.ErrResponse, inErr: []string{"none of the keys other.example.com"}},
		{name: "refused response's password repeated on stderr", env: map[string]string{credplugin.EnvKey: "other.example.com", credplugin.EnvPassword: "echoed-pw-123", credplugin.EnvEcho: "1"},
			wantErr: credentialprovider.ErrResponse, inErr: []string{"answering other.example.com with", "REDACTED"}, notInErr: []string{"echoed-pw-123"}},
		{name: "response printed, then a failing exit, password repeated on stderr", env: map[string]string{credplugin.EnvPassword: "echoed-pw-456", credplugin.EnvEcho: "1", credplugin.EnvExit: "4"},
			inErr: []string{"exit status 4", "answering reg.example.com:5000 with", "REDACTED"}, notInErr: []string{"echoed-pw-456"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []credentialprovider.EnvVar
			for k, v := range tt.env {
				env = append(env, credentialprovider.EnvVar{Name: k, Value: v})
			}
			pidFile := filepath.Join(t.TempDir(), "pid")
			env = append(env, credentialprovider.EnvVar{Name: credplugin.EnvPIDFile, Value: pidFile})
			p := credentialprovider.Plugin{BinDir: pluginDir, Name: credplugin.Name, Env: env, Timeout: tt.timeout}
			start := time.Now()
			c, err := p.Run(context.Background(), credentialprovider.Request{Image: image})
			took := time.Since(start)
			if tt.inErr == nil && tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := dockercfg.Parse(c.DockerConfigJSON, dockercfg.ConfigJSON)
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Entries) != 1 || cfg.Entries[0].Key != "reg.example.com:5000" || cfg.Entries[0].Username != "AWS" || cfg.Entries[0].Password != "tok-1" {
					t.Errorf("entries %+v", cfg.Entries)
				}
				if c.CacheDuration != 6*time.Hour {
					t.Errorf("cacheDuration %s", c.CacheDuration)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, credential %v", c != nil)
			}
			var perr *credentialprovider.Error
			if !errors.As(err, &perr) || perr.Plugin != credplugin.Name {
				t.Errorf("error %T %v is not a *credentialprovider.Error", err, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			for _, s := range tt.inErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			for _, s := range tt.notInErr {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows %q", err, s)
				}
			}
			if tt.timeout > 0 {
				// Killed at the limit, with the child that held stdout open.
				if took > tt.timeout+3*time.Second {
					t.Errorf("run took %s with a limit of %s", took, tt.timeout)
				}
				b, err := os.ReadFile(pidFile)
				if err != nil {
					t.Fatal(err)
				}
				pid, _ := strconv.Atoi(string(b))
				deadline := time.Now().Add(5 * time.Second)
				for syscall.Kill(pid, 0) == nil {
					if time.Now().After(deadline) {
						t.Fatalf("the plugin's child %d still runs", pid)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
}

func TestRunRefusesPaths(t *testing.T) {
	tests := []struct {
		name, plugin string
		want         error
	}{
		{"path", "../credplugin", credentialprovider.ErrPluginName},
		{"dot dot", "..", credentialprovider.ErrPluginName},
		{"absolute", "/bin/sh", credentialprovider.ErrPluginName},
		{"missing", "ecr-credential-provider", credentialprovider.ErrNoPlugin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := credentialprovider.Plugin{BinDir: pluginDir, Name: tt.plugin}
			_, err := p.Run(context.Background(), credentialprovider.Request{Image: "reg.example.com/app"})
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRunRedactsTheServiceAccountToken(t *testing.T) {
	p := credentialprovider.Plugin{BinDir: pluginDir, Name: credplugin.Name, Env: []credentialprovider.EnvVar{{Name: credplugin.EnvMode, Value: "no-such-mode"}}}
	// The plugin quotes its unknown mode, not the token; the token is redacted from
	// whatever the plugin says, so make it say it: the mode is the token.
	tok := "sa-token-value-42"
	p.Env[0].Value = tok
	_, err := p.Run(context.Background(), credentialprovider.Request{Image: "reg.example.com/app", ServiceAccountToken: tok})
	if err == nil || strings.Contains(err.Error(), tok) || !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("error %v", err)
	}
}
