package images_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/regcred/regcred/test/images"
)

func TestRegcredLayout(t *testing.T) {
	ctx := context.Background()
	img, err := images.RegcredWith(ctx, images.RegcredOptions{Version: "v0.0.0-layout"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Config.Entrypoint, []string{"/regcred-controller"}; !cmp.Equal(got, want) {
		t.Errorf("entrypoint = %q, want %q", got, want)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", cfg.Config.User)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
	}
	if v := cfg.Config.Labels["org.opencontainers.image.version"]; v != "v0.0.0-layout" {
		t.Errorf("version label = %q, want v0.0.0-layout", v)
	}

	type entry struct {
		Mode     int64
		Uid, Gid int
		Dir      bool
	}
	got := map[string]entry{}
	dir := t.TempDir()
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = entry{Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, Dir: h.Typeflag == tar.TypeDir}
		if h.Name == "kubectl-regcred" {
			f, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]entry{
		"etc":                {Mode: 0o755, Dir: true},
		"etc/group":          {Mode: 0o644},
		"etc/passwd":         {Mode: 0o644},
		"regcred-controller": {Mode: 0o755},
		"kubectl-regcred":    {Mode: 0o755},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("image files (-want +got):\n%s", diff)
	}

	// The binaries are static and carry the version they were stamped with.
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "kubectl-regcred"), "version", "--client").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl-regcred version --client: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "Client Version: v0.0.0-layout") {
		t.Errorf("kubectl-regcred version --client = %q, want the stamped v0.0.0-layout", out)
	}
}
