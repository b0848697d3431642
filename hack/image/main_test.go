package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/regcred/regcred/test/registry"
)

func TestPushAndTarballAreTheSameImage(t *testing.T) {
	ctx := context.Background()
	reg, err := registry.Start(ctx, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ref := reg.Ref("regcred/regcred-controller:test")
	file := t.TempDir() + "/image.tar"

	var out bytes.Buffer
	if err := run(ctx, []string{"-o", file, "--push", ref, "--version", "v0.0.0-push"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "pushed "+reg.Ref("regcred/regcred-controller@sha256:")) {
		t.Errorf("output = %q, want the pushed digest", out.String())
	}

	pref, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(pref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := pulled.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ld, err := loaded.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if pd != ld {
		t.Errorf("pushed digest %s, tarball digest %s: want the same image", pd, ld)
	}
	cfg, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/regcred-controller" {
		t.Errorf("config user %q entrypoint %q, want 65532:65532 and /regcred-controller", cfg.Config.User, cfg.Config.Entrypoint)
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		registry string
		want     bool
	}{
		{"127.0.0.1:5000", true},
		{"127.1.2.3", true},
		{"localhost:5000", true},
		{"[::1]:5000", true},
		{"10.245.0.1:5000", false},
		{"registry.example.com", false},
		{"ghcr.io", false},
	} {
		if got := isLoopback(tc.registry); got != tc.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tc.registry, got, tc.want)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nowhere to go", nil, "-o FILE.tar, --push REF"},
		{"bad reference", []string{"--push", "Bad Ref"}, "--push"},
		{"extra argument", []string{"-o", "x.tar", "extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
