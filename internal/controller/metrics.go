package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/regcred/regcred/api/v1alpha1"
)

// Metrics regcred adds to controller-runtime's own (reconcile totals, errors and
// durations per controller, workqueue depth, client requests).
type Metrics struct {
	namespaces *prometheus.GaugeVec
	sourceOK   *prometheus.GaugeVec
	writes     *prometheus.CounterVec
	refused    *prometheus.CounterVec
}

// NewMetrics registers regcred's metrics with controller-runtime's registry; a
// second call in one process returns collectors that are not registered.
func NewMetrics() *Metrics {
	m := &Metrics{
		namespaces: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "regcred_namespaces",
			Help: "Namespaces targeted by a ClusterPullSecret, by state (Synced, Pending, Conflict, Failed).",
		}, []string{"cluster_pull_secret", "state"}),
		sourceOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "regcred_source_usable",
			Help: "1 when the ClusterPullSecret's source holds a usable pull credential, 0 when not.",
		}, []string{"cluster_pull_secret"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regcred_writes_total",
			Help: "Writes regcred made to copies and ServiceAccounts, by kind and verb.",
		}, []string{"kind", "verb"}),
		// Shared by the managers of one process, as the credential metrics are.
		refused: register(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regcred_evictions_refused_total",
			Help: "Evictions of stuck pods the API server refused (an admission policy, a webhook), by ClusterPullSecret.",
		}, []string{"cluster_pull_secret"})),
	}
	for _, c := range []prometheus.Collector{m.namespaces, m.sourceOK, m.writes} {
		_ = metrics.Registry.Register(c) // AlreadyRegistered in tests that start several managers
	}
	return m
}

func (m *Metrics) setCounts(cps string, c v1alpha1.NamespaceCounts, pending int32) {
	m.namespaces.WithLabelValues(cps, string(v1alpha1.NamespaceSynced)).Set(float64(c.Synced))
	m.namespaces.WithLabelValues(cps, string(v1alpha1.NamespaceConflict)).Set(float64(c.Conflict))
	m.namespaces.WithLabelValues(cps, string(v1alpha1.NamespaceFailed)).Set(float64(c.Failed))
	m.namespaces.WithLabelValues(cps, string(v1alpha1.NamespacePending)).Set(float64(pending))
}

func (m *Metrics) setSource(cps string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.sourceOK.WithLabelValues(cps).Set(v)
}

func (m *Metrics) forget(cps string) {
	m.namespaces.DeletePartialMatch(prometheus.Labels{"cluster_pull_secret": cps})
	m.sourceOK.DeleteLabelValues(cps)
}
