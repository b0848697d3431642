//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
)

// privateRegistry starts a registry of the test's own, so that what the test does to
// it (a password rotated, credentials that expire) touches no other test, and pushes
// a pause image to it as team/app:1. It is closed when the test ends.
func privateRegistry(ctx context.Context, t *testing.T, label string, opts registry.Options) *registry.Registry {
	t.Helper()
	reg, err := registry.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	app, err := images.Pause(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(ctx, "team/app:1", app); err != nil {
		t.Fatal(err)
	}
	return reg
}

// installController builds regcred's image from this tree, pushes it to the cluster's
// registry and installs the chart as a user would, with the API server's bridge
// address in place of the kubernetes Service and the --set values given.
func installController(ctx context.Context, t *testing.T, release, namespace string, sets ...string) {
	t.Helper()
	img, err := images.Regcred(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Registries.Open.Push(ctx, "regcred/regcred:e2e", img); err != nil {
		t.Fatal(err)
	}
	host, port := apiServerAddress(t)
	args := []string{"install", release, chartDir(), "--namespace", namespace, "--create-namespace",
		"--set", "image.repository=" + local.Registries.Open.Ref("regcred/regcred"), "--set", "image.tag=e2e",
		"--set", "apiServer.host=" + host, "--set", "apiServer.port=" + port,
		"--set", "logLevel=debug", "--wait", "--timeout", "3m"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	helm(ctx, t, args...)
}

// apiServerAddress is the host and port of the API server on the cluster's bridge.
func apiServerAddress(t *testing.T) (host, port string) {
	t.Helper()
	u, err := url.Parse(local.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

// removeCPS deletes the ClusterPullSecret and waits until its finalizer has let it
// go, that is until the controller has taken back what it made for it.
func removeCPS(ctx context.Context, t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	if err := dyn.Resource(cpsResource).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	waitFor(ctx, t, "ClusterPullSecret "+name+" gone", func() error {
		_, err := dyn.Resource(cpsResource).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}
