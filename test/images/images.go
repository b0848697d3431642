package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var pause struct {
	once sync.Once
	bin  []byte
	err  error
}

// PauseBinary returns the static pause program, built once per process with the Go
// toolchain that runs the tests.
func PauseBinary(ctx context.Context) ([]byte, error) {
	pause.once.Do(func() {
		dir, err := os.MkdirTemp("", "regcred-pause-")
		if err != nil {
			pause.err = fmt.Errorf("build pause binary: %w", err)
			return
		}
		defer os.RemoveAll(dir)
		_, self, _, _ := runtime.Caller(0)
		out := filepath.Join(dir, "pause")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = filepath.Join(filepath.Dir(self), "pause")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if b, err := cmd.CombinedOutput(); err != nil {
			pause.err = fmt.Errorf("build pause binary: %w: %s", err, b)
			return
		}
		pause.bin, pause.err = os.ReadFile(out)
	})
	return pause.bin, pause.err
}

// Pause returns a single-layer image whose entrypoint is the pause program. The label
// goes into the image config, so different labels give different digests.
func Pause(ctx context.Context, label string) (v1.Image, error) {
	bin, err := PauseBinary(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		return nil, fmt.Errorf("write image layer: %w", err)
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, fmt.Errorf("write image layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write image layer: %w", err)
	}
	tarBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("make image layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("append image layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = []string{"/pause"}
	cfg.Config.Labels = map[string]string{"dev.regcred.test/image": label}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	return img, nil
}
