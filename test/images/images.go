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
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// binaries are the static programs built in this process, by package folder, target
// architecture and version.
var binaries sync.Map // target -> *built

// target is one build of a Go program.
type target struct {
	dir     string // relative to this file
	arch    string // GOARCH
	version string // stamped into internal/buildinfo; empty leaves it unstamped
}

type built struct {
	once sync.Once
	bin  []byte
	err  error
}

// versionVar is the variable that holds the release version, set at link time.
const versionVar = "github.com/regcred/regcred/internal/buildinfo.version"

// static builds the Go program in t.dir once per process, as a static Linux binary.
func static(ctx context.Context, t target) ([]byte, error) {
	if t.arch == "" {
		t.arch = runtime.GOARCH
	}
	v, _ := binaries.LoadOrStore(t, &built{})
	b := v.(*built)
	b.once.Do(func() {
		tmp, err := os.MkdirTemp("", "regcred-image-")
		if err != nil {
			b.err = fmt.Errorf("build %s: %w", t.dir, err)
			return
		}
		defer os.RemoveAll(tmp)
		_, self, _, _ := runtime.Caller(0)
		out := filepath.Join(tmp, "bin")
		ldflags := "-s -w"
		if t.version != "" {
			ldflags += " -X " + versionVar + "=" + t.version
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags="+ldflags, "-o", out, ".")
		cmd.Dir = filepath.Join(filepath.Dir(self), t.dir)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.arch)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %w: %s", t.dir, err, o)
			return
		}
		b.bin, b.err = os.ReadFile(out)
	})
	return b.bin, b.err
}

// PauseBinary returns the static pause program.
func PauseBinary(ctx context.Context) ([]byte, error) { return static(ctx, target{dir: "pause"}) }

// Pause returns a single-layer image whose entrypoint is the pause program. The label
// goes into the image config, so different labels give different digests.
func Pause(ctx context.Context, label string) (v1.Image, error) {
	bin, err := PauseBinary(ctx)
	if err != nil {
		return nil, err
	}
	cfg := v1.Config{
		Entrypoint: []string{"/pause"},
		Labels:     map[string]string{"dev.regcred.test/image": label},
	}
	return build(runtime.GOARCH, cfg, []file{{path: "pause", mode: 0o755, data: bin}})
}

// file is one entry of an image layer, owned by root: a regular file, or a folder
// when its path ends in a slash.
type file struct {
	path string // without the leading slash
	mode int64
	data []byte
}

// build is an image of one layer holding files, for linux/arch.
func build(arch string, config v1.Config, files []file) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name: f.path, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg,
			Uid: 0, Gid: 0, Uname: "root", Gname: "root",
		}
		if strings.HasSuffix(f.path, "/") {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write image layer: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("write image layer: %w", err)
		}
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
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Config = config
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	return img, nil
}
