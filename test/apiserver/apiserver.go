// Package apiserver starts a real kube-apiserver with etcd (controller-runtime's envtest,
// with the binaries of package k8sbin) for integration tests.
package apiserver

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/regcred/regcred/test/k8sbin"
)

// Server is a running kube-apiserver with its etcd.
type Server struct {
	// Config is an admin client configuration.
	Config *rest.Config
	env    *envtest.Environment
}

// Start starts etcd and kube-apiserver.
func Start(ctx context.Context) (*Server, error) {
	dir, err := k8sbin.Dir(ctx)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", dir, err)
	}
	return &Server{Config: cfg, env: env}, nil
}

// User returns a client configuration for a user with the given groups (no
// permissions but what RBAC objects grant it).
func (s *Server) User(name string, groups ...string) (*rest.Config, error) {
	u, err := s.env.AddUser(envtest.User{Name: name, Groups: groups}, s.Config)
	if err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	return u.Config(), nil
}

// InstallCRDs installs regcred's CustomResourceDefinitions (config/crd/bases) and
// waits until they are served.
func (s *Server) InstallCRDs() error {
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "..", "..", "config", "crd", "bases")
	if _, err := envtest.InstallCRDs(s.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("install CRDs from %s: %w", dir, err)
	}
	return nil
}

// RestartAPIServer stops kube-apiserver and starts it again on the same address,
// with etcd left running.
func (s *Server) RestartAPIServer() error {
	api := s.env.ControlPlane.APIServer
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver again: %w", err)
	}
	return nil
}

// Stop stops kube-apiserver and etcd.
func (s *Server) Stop() error { return s.env.Stop() }
