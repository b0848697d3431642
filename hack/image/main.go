// Command image builds regcred's container image without a container engine (the
// static binaries regcred-controller and kubectl-regcred in one layer, see
// test/images.RegcredWith) and writes it as a tarball that `docker load`,
// `ctr images import` and `crane push` read, or pushes it to a registry.
//
//	go run ./hack/image -o bin/regcred-image.tar
//	go run ./hack/image --version v0.1.0 --push 127.0.0.1:5000/regcred/regcred-controller:v0.1.0
//
// Pushes use the credentials of ~/.docker/config.json; a registry on a loopback host
// is spoken to over plain HTTP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/regcred/regcred/test/images"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o struct {
		file, tag, push string
		images.RegcredOptions
	}
	fs.StringVar(&o.file, "o", "", "write the image to this tarball (docker-archive format)")
	fs.StringVar(&o.tag, "tag", "", "the image's name in the tarball (default regcred-controller:VERSION, or :latest)")
	fs.StringVar(&o.push, "push", "", "push the image to this reference (REGISTRY/REPOSITORY:TAG)")
	fs.StringVar(&o.Version, "version", "", "version stamped into the binaries (empty: the Go toolchain's)")
	fs.StringVar(&o.Arch, "arch", "", "GOARCH of the image (empty: this machine's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.file == "" && o.push == "" {
		return errors.New("say where the image goes: -o FILE.tar, --push REF or both")
	}
	if o.tag == "" {
		o.tag = "regcred-controller:latest"
		if o.Version != "" {
			o.tag = "regcred-controller:" + o.Version
		}
	}
	tag, err := name.NewTag(o.tag)
	if err != nil {
		return fmt.Errorf("--tag: %w", err)
	}
	var dst name.Reference
	if o.push != "" {
		if dst, err = pushRef(o.push); err != nil {
			return fmt.Errorf("--push: %w", err)
		}
	}

	img, err := images.RegcredWith(ctx, o.RegcredOptions)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	if o.file != "" {
		if err := tarball.WriteToFile(o.file, tag, img); err != nil {
			return fmt.Errorf("write %s: %w", o.file, err)
		}
		fmt.Fprintf(out, "wrote %s (%s, %s)\n", o.file, tag, digest)
	}
	if dst != nil {
		if err := push(ctx, dst, img); err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed %s\n", dst.Context().Digest(digest.String()))
	}
	return nil
}

// pushRef parses a reference to push to; a loopback registry is plain HTTP.
func pushRef(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if isLoopback(ref.Context().RegistryStr()) {
		return name.ParseReference(s, name.Insecure)
	}
	return ref, nil
}

// isLoopback reports whether a registry host[:port] is on this machine.
func isLoopback(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func push(ctx context.Context, ref name.Reference, img v1.Image) error {
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
