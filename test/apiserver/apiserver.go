// Package apiserver starts a real kube-apiserver with etcd (controller-runtime's envtest,
// with the binaries of package k8sbin) for integration tests.
package apiserver

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"runtime"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/regcred/regcred/test/k8sbin"
)

// Server is a running kube-apiserver with its etcd.
type Server struct {
	// Config is an admin client configuration.
	Config *rest.Config
	env    *envtest.Environment
	// restarted are kube-apiservers RestartAPIServer started in envtest's place.
	restarted []*exec.Cmd
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

// WriteKubeconfig writes a kubeconfig for the admin client configuration to path.
func (s *Server) WriteKubeconfig(path string) error {
	cfg := s.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
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

// RestartAPIServer kills kube-apiserver (SIGKILL, as a crash would) and starts the
// same command line again, etcd left running, and waits until it is ready.
func (s *Server) RestartAPIServer(ctx context.Context) error {
	pid, args, err := s.apiserverProcess()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill kube-apiserver: %w", err)
	}
	for i := 0; i < 100 && processAlive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	// The port can take a moment to be free again: start until it binds.
	var cmd *exec.Cmd
	for try := 0; ; try++ {
		cmd = exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start kube-apiserver again: %w", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if try == 50 {
				return fmt.Errorf("kube-apiserver exits at restart: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		case <-time.After(3 * time.Second):
		}
		break
	}
	s.restarted = append(s.restarted, cmd)
	cs, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready again after a minute: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiserverProcess finds the kube-apiserver serving s.Config.Host among this
// process's children.
func (s *Server) apiserverProcess() (int, []string, error) {
	if n := len(s.restarted); n > 0 {
		c := s.restarted[n-1]
		return c.Process.Pid, c.Args, nil
	}
	u, err := url.Parse(s.Config.Host)
	if err != nil {
		return 0, nil, err
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args, "--secure-port="+u.Port()) {
			return pid, args, nil
		}
	}
	return 0, nil, fmt.Errorf("no kube-apiserver process serves %s", s.Config.Host)
}

func processAlive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// Stop stops kube-apiserver and etcd.
func (s *Server) Stop() error {
	for _, c := range s.restarted {
		_ = c.Process.Kill()
	}
	return s.env.Stop()
}
