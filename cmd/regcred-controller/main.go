// Command regcred-controller keeps image pull credentials present, correct and fresh
// in the namespaces that need them: for every ClusterPullSecret, a copy of its source
// Secret in each namespace it targets and a reference in the ServiceAccounts it serves.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/regcred/regcred/internal/buildinfo"
	"github.com/regcred/regcred/internal/controller"
)

func main() {
	var (
		metricsAddr, probeAddr, pprofAddr, leaderNS string
		leaderElect, printVersion                   bool
		workers                                     int
		qps                                         float64
		burst                                       int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address the metrics endpoint binds to (0 disables it)")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "address the health probes bind to")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "address Go's pprof endpoints bind to (empty: off)")
	flag.BoolVar(&leaderElect, "leader-elect", true, "elect a leader, so that of several replicas one works and the others stand by")
	flag.StringVar(&leaderNS, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the leader election Lease (default: $POD_NAMESPACE, or the in-cluster namespace)")
	flag.IntVar(&workers, "workers", 64, "namespaces reconciled at once")
	flag.Float64Var(&qps, "kube-api-qps", 1000, "API requests per second the client may make on average (-1: no client-side limit, the API server's priority and fairness only)")
	flag.IntVar(&burst, "kube-api-burst", 2000, "API requests the client may make at once above --kube-api-qps")
	flag.BoolVar(&printVersion, "version", false, "print the version and exit")
	credentialProviderBinDir := flag.String("credential-provider-bin-dir", "", "folder of kubelet credential provider plugins that ClusterPullSecrets with spec.source.credentialProvider name (empty: none)")
	minRefresh := flag.Duration("min-credential-refresh", controller.DefaultMinCredentialRefresh, "shortest wait between a plugin's credential and the next, each of which rewrites every copy (at least 1s)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if printVersion {
		fmt.Println(buildinfo.Version())
		return
	}
	if os.Getenv("GOGC") == "" {
		// The heap is mostly caches that change little: collect sooner than Go's
		// default so that resident memory stays near what the caches hold.
		debug.SetGCPercent(50)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("regcred-controller")

	if workers < 1 || burst < 0 || (qps <= 0 && qps != -1) {
		fail(2, fmt.Errorf("--workers must be at least 1, --kube-api-qps positive or -1, --kube-api-burst not negative (got %d, %g, %d)", workers, qps, burst))
	}
	if *minRefresh < time.Second {
		fail(2, fmt.Errorf("--min-credential-refresh %s: use 1s or more", *minRefresh))
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fail(2, fmt.Errorf("load cluster config: %w", err))
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = "regcred-controller/" + buildinfo.Version()

	scheme, err := controller.NewScheme()
	if err != nil {
		fail(2, fmt.Errorf("make the scheme: %w", err))
	}
	policies, err := controller.PolicyServed(cfg)
	if err != nil {
		fail(1, err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controller.CacheOptions(policies),
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "regcred-controller.regcred.dev",
		LeaderElectionNamespace:       leaderNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		fail(2, fmt.Errorf("make controller manager: %w", err))
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controller.Setup(ctx, mgr, controller.Options{Workers: workers, AdmissionPolicies: policies, CredentialProviderBinDir: *credentialProviderBinDir, MinCredentialRefresh: *minRefresh}); err != nil {
		fail(2, err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		fail(2, fmt.Errorf("add health check: %w", err))
	}
	// Ready once the caches have listed; a standby replica is ready too, so that a
	// rollout does not wait for leadership.
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("caches not synced")
		}
		return nil
	}); err != nil {
		fail(2, fmt.Errorf("add ready check: %w", err))
	}
	log.Info("starting", "version", buildinfo.Version(), "workers", workers, "qps", qps, "burst", burst, "leaderElection", leaderElect, "admissionPolicies", policies)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "controller manager stopped")
		os.Exit(1)
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(code)
}
