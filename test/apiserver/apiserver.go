// Package apiserver starts a real kube-apiserver with etcd (controller-runtime's envtest,
// with the binaries of package k8sbin) for integration tests.
package apiserver

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/regcred/regcred/test/k8sbin"
)

// Start starts etcd and kube-apiserver and returns an admin client configuration and
// a function that stops both.
func Start(ctx context.Context) (*rest.Config, func() error, error) {
	dir, err := k8sbin.Dir(ctx)
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir, ErrorIfCRDPathMissing: false}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", dir, err)
	}
	return cfg, env.Stop, nil
}
