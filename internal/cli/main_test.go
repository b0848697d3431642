package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/regcred/regcred/internal/cli"
	"github.com/regcred/regcred/test/apiserver"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
)

// Shared by the tests of this package: a real kube-apiserver (kubeconfig, kube) and
// real registries (regs).
var (
	kubeconfig string
	kube       kubernetes.Interface
	regs       *registry.Fixtures
	server     *apiserver.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	srv, err := apiserver.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Stop()
	server = srv
	cfg := srv.Config
	if kube, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if regs, err = registry.StartFixtures(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer regs.Close()
	if err := pushFixtureImages(regs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "regcred-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: "default"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}

// runCmd runs the root command in-process, as `kubectl regcred ARGS...`.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmdIn(t, "", args...)
}

// runCmdIn is runCmd with standard input.
func runCmdIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, append([]string{"--kubeconfig", kubeconfig}, args...))
	return out.String(), errOut.String(), code
}

// pushFixtureImages puts team/app:v1 on the Basic and Token registries.
func pushFixtureImages(f *registry.Fixtures) error {
	ctx := context.Background()
	img, err := images.Pause(ctx, "cli")
	if err != nil {
		return err
	}
	for _, r := range []*registry.Registry{f.Basic, f.Token} {
		if _, err := r.Push(ctx, "team/app:v1", img); err != nil {
			return err
		}
	}
	return nil
}
