package controller_test

import (
	"context"
	"fmt"
	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/regcred/regcred/internal/controller"
	"github.com/regcred/regcred/test/apiserver"
)

// Shared by the tests: a real kube-apiserver with regcred's CRD. envtest runs no
// kube-controller-manager, so tests make their ServiceAccounts themselves, and a
// deleted namespace stays Terminating.
var (
	server *apiserver.Server
	kube   kubernetes.Interface
	cl     client.Client
	scheme *runtime.Scheme
	// policies: the test API server serves MutatingAdmissionPolicy.
	policies bool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if scheme, err = controller.NewScheme(); err != nil {
		panic(err)
	}
	if os.Getenv("REGCRED_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	srv, err := apiserver.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Stop()
	server = srv
	if err := srv.InstallCRDs(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv.Config.QPS, srv.Config.Burst = -1, 0
	if kube, err = kubernetes.NewForConfig(srv.Config); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if policies, err = controller.PolicyServed(srv.Config); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cl, err = client.New(srv.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// startController runs the controller in this process until the returned function
// is called, which waits for it to stop.
func startController(t testing.TB) (stop func()) {
	t.Helper()
	return startControllerWith(t, controller.Options{})
}

// startControllerWith is startController with options; Workers, AdmissionPolicies
// and CredentialProviderBinDir are set here, and MinCredentialRefresh to 1 s unless
// given.
func startControllerWith(t testing.TB, opts controller.Options) (stop func()) {
	t.Helper()
	cfg := *server.Config
	cfg.QPS, cfg.Burst = -1, 0
	mgr, err := ctrl.NewManager(&cfg, ctrl.Options{
		Scheme:     scheme,
		Cache:      controller.CacheOptions(policies),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts.Workers, opts.AdmissionPolicies, opts.CredentialProviderBinDir = 16, policies, pluginDir
	if opts.MinCredentialRefresh == 0 {
		// The tests' credentials live seconds; the binary's floor is 10 s.
		opts.MinCredentialRefresh = time.Second
	}
	if err := controller.Setup(ctx, mgr, opts); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("controller did not stop within 30s")
		}
	}
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}

// metricOf reads a gauge or counter of regcred's with the ClusterPullSecret's label
// from the in-process controller's registry, and whether there was one.
func metricOf(t testing.TB, name, cps string) (float64, bool) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cluster_pull_secret" && l.GetValue() == cps {
					if c := m.GetCounter(); c != nil {
						return c.GetValue(), true
					}
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}
