package controller

import (
	"slices"
	"sync"
	"time"

	"github.com/regcred/regcred/api/v1alpha1"
)

// result is what the last reconcile of one pair found.
type result struct {
	State   v1alpha1.NamespaceState
	Message string
}

// results holds each pair's last result, by ClusterPullSecret and namespace, and
// the last time a pair wrote something. Status is summed from it.
type results struct {
	mu        sync.Mutex
	byCPS     map[string]map[string]result
	lastWrite map[string]time.Time
}

func newResults() *results {
	return &results{byCPS: map[string]map[string]result{}, lastWrite: map[string]time.Time{}}
}

// Set records a pair's result and reports whether it differs from the last one.
func (r *results) Set(p Pair, res result, wrote bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.byCPS[p.ClusterPullSecret]
	if m == nil {
		m = map[string]result{}
		r.byCPS[p.ClusterPullSecret] = m
	}
	if wrote {
		r.lastWrite[p.ClusterPullSecret] = time.Now()
	}
	old, ok := m[p.Namespace]
	m[p.Namespace] = res
	return !ok || old != res || wrote
}

// Forget drops a pair's result and reports whether there was one.
func (r *results) Forget(p Pair) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.byCPS[p.ClusterPullSecret]
	if _, ok := m[p.Namespace]; !ok {
		return false
	}
	delete(m, p.Namespace)
	return true
}

// Snapshot copies one ClusterPullSecret's results and its last write time.
func (r *results) Snapshot(cps string) (map[string]result, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]result, len(r.byCPS[cps]))
	for ns, res := range r.byCPS[cps] {
		out[ns] = res
	}
	return out, r.lastWrite[cps]
}

// Drop forgets everything about a ClusterPullSecret.
func (r *results) Drop(cps string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byCPS, cps)
	delete(r.lastWrite, cps)
}

// Namespaces returns, sorted, the namespaces whose last result for the
// ClusterPullSecret is in the state.
func (r *results) Namespaces(cps string, state v1alpha1.NamespaceState) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for ns, res := range r.byCPS[cps] {
		if res.State == state {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}
