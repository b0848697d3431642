package doctor

import (
	"os"
	"runtime/debug"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A cluster-wide doctor run lists every pod: at 50,000 pods their full objects, with
// managed fields, would take gigabytes. Objects are stripped as their page arrives to
// what the checks read (pods: see listPods).

// lastApplied is kubectl's copy of the whole object, as applied, in an annotation.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// stripMeta drops the managed fields and kubectl's last-applied copy: no check reads
// them, and they are often most of an object.
func stripMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	delete(m.Annotations, lastApplied)
}

// waiting reports whether some container of the pod waits, or has no status yet.
func waiting(p *corev1.Pod) bool {
	for _, c := range p.Spec.InitContainers {
		if !started(c.Name, p.Status.InitContainerStatuses) {
			return true
		}
	}
	for _, c := range p.Spec.Containers {
		if !started(c.Name, p.Status.ContainerStatuses) {
			return true
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if !started(c.Name, p.Status.EphemeralContainerStatuses) {
			return true
		}
	}
	return false
}

// started reports whether the named container runs or has ended.
func started(name string, statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.Name == name {
			return s.State.Waiting == nil && (s.State.Running != nil || s.State.Terminated != nil)
		}
	}
	return false
}

// gcPercent is the garbage collector's setting while doctor holds a cluster's pods.
// The heap peaks at about (1 + GOGC/100) times what is live, and what is live is the
// gathered cluster: at 50,000 pods about 160 MB, which Go's default of 100 takes to a
// peak RSS of about 370 MB; 30 keeps it under 300 MB for some 20% more CPU time in
// the collector (see BenchmarkDoctorAllNamespaces and the README).
const gcPercent = 30

// CollectSooner sets the garbage collector for a process about to gather a cluster,
// unless GOGC says otherwise.
func CollectSooner() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
