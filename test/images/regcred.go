package images

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The layout of regcred's image.
const (
	// ControllerPath is the image's entrypoint, the controller.
	ControllerPath = "/regcred-controller"
	// PluginPath is kubectl-regcred, which doctor --probe-node runs as the command of
	// its probe pods.
	PluginPath = "/kubectl-regcred"
	// User is the user and group the image runs as: distroless's "nonroot".
	User = "65532:65532"
)

// passwd and group name the image's users for programs that look them up; the image
// has nothing else, no shell and no /tmp: neither binary writes to its file system, so
// it runs with readOnlyRootFilesystem.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// RegcredOptions choose how regcred's image is built.
type RegcredOptions struct {
	// Version is stamped into both binaries (internal/buildinfo); empty leaves the
	// version the Go toolchain records.
	Version string
	// Arch is the GOARCH of the binaries and the image; empty is this machine's.
	Arch string
}

// Regcred returns regcred's image built from this tree for this machine's
// architecture: see RegcredWith.
func Regcred(ctx context.Context) (v1.Image, error) {
	return RegcredWith(ctx, RegcredOptions{})
}

// ControllerBinary returns regcred-controller built exactly as the image ships it (a
// static binary, trimmed paths, no symbol table), for this machine's architecture.
func ControllerBinary(ctx context.Context) ([]byte, error) {
	return static(ctx, target{dir: filepath.Join("..", "..", "cmd", "regcred-controller"), arch: runtime.GOARCH})
}

// RegcredWith returns regcred's image: one layer with the static binaries
// /regcred-controller (the entrypoint) and /kubectl-regcred (the probe pods' command),
// owned by root and executable by all, and /etc/passwd and /etc/group; it runs as
// 65532:65532.
func RegcredWith(ctx context.Context, o RegcredOptions) (v1.Image, error) {
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	cmd := filepath.Join("..", "..", "cmd")
	controller, err := static(ctx, target{dir: filepath.Join(cmd, "regcred-controller"), arch: arch, version: o.Version})
	if err != nil {
		return nil, err
	}
	plugin, err := static(ctx, target{dir: filepath.Join(cmd, "kubectl-regcred"), arch: arch, version: o.Version})
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":  "regcred",
		"org.opencontainers.image.source": "https://github.com/regcred/regcred",
	}
	if o.Version != "" {
		labels["org.opencontainers.image.version"] = o.Version
	}
	cfg := v1.Config{
		Entrypoint: []string{ControllerPath},
		User:       User,
		WorkingDir: "/",
		Labels:     labels,
	}
	img, err := build(arch, cfg, []file{
		{path: "etc/", mode: 0o755},
		{path: "etc/group", mode: 0o644, data: []byte(group)},
		{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: ControllerPath[1:], mode: 0o755, data: controller},
		{path: PluginPath[1:], mode: 0o755, data: plugin},
	})
	if err != nil {
		return nil, fmt.Errorf("regcred image: %w", err)
	}
	return img, nil
}
