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

// binaries are the static programs built in this process, by package folder.
var binaries sync.Map // dir -> *built

type built struct {
	once sync.Once
	bin  []byte
	err  error
}

// static builds the Go program in dir (relative to this file) once per process, as a
// static Linux binary.
func static(ctx context.Context, dir string) ([]byte, error) {
	v, _ := binaries.LoadOrStore(dir, &built{})
	b := v.(*built)
	b.once.Do(func() {
		tmp, err := os.MkdirTemp("", "regcred-image-")
		if err != nil {
			b.err = fmt.Errorf("build %s: %w", dir, err)
			return
		}
		defer os.RemoveAll(tmp)
		_, self, _, _ := runtime.Caller(0)
		out := filepath.Join(tmp, "bin")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = filepath.Join(filepath.Dir(self), dir)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if o, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %w: %s", dir, err, o)
			return
		}
		b.bin, b.err = os.ReadFile(out)
	})
	return b.bin, b.err
}

// PauseBinary returns the static pause program.
func PauseBinary(ctx context.Context) ([]byte, error) { return static(ctx, "pause") }

// Regcred returns an image of kubectl-regcred (entrypoint /kubectl-regcred), for
// doctor --probe-node.
func Regcred(ctx context.Context) (v1.Image, error) {
	bin, err := static(ctx, filepath.Join("..", "..", "cmd", "kubectl-regcred"))
	if err != nil {
		return nil, err
	}
	return single(bin, "kubectl-regcred", "regcred")
}

// Pause returns a single-layer image whose entrypoint is the pause program. The label
// goes into the image config, so different labels give different digests.
func Pause(ctx context.Context, label string) (v1.Image, error) {
	bin, err := PauseBinary(ctx)
	if err != nil {
		return nil, err
	}
	return single(bin, "pause", label)
}

// single is an image of one static binary at /NAME, its entrypoint.
func single(bin []byte, name, label string) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
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
	cfg.Config.Entrypoint = []string{"/" + name}
	cfg.Config.Labels = map[string]string{"dev.regcred.test/image": label}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	return img, nil
}
