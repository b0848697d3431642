package doctor

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A cluster-wide doctor run lists every pod: at 50,000 pods their full objects, with
// managed fields, would take gigabytes. Objects are stripped as their page arrives to
// what the checks read.

// lastApplied is kubectl's copy of the whole object, as applied, in an annotation.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// stripMeta drops the managed fields and kubectl's last-applied copy: no check reads
// them, and they are often most of an object.
func stripMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	if _, ok := m.Annotations[lastApplied]; ok {
		delete(m.Annotations, lastApplied)
	}
}

// keepPod strips a listed pod in place, and reports whether it is kept whole. A pod
// some container of which waits, or has no status yet, is kept whole but for its
// managed fields and last-applied copy: it is the one the checks explain. A pod whose
// containers all run or have ended needs little: the checks only see where its images
// run and with which pull Secrets, and name its owner in a fix. It keeps its name,
// namespace, UID, labels and owner references; its node, ServiceAccount and pull
// Secrets; each container's name, image and pull policy; its phase and each container
// status's name, image, readiness and state.
func keepPod(p *corev1.Pod) bool {
	stripMeta(&p.ObjectMeta)
	if waiting(p) {
		return true
	}
	p.ObjectMeta = metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, Labels: p.Labels, OwnerReferences: p.OwnerReferences}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		*c = corev1.Container{Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy}
	}
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		*c = corev1.Container{Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy}
	}
	for i := range p.Spec.EphemeralContainers {
		c := &p.Spec.EphemeralContainers[i]
		*c = corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy}}
	}
	p.Spec = corev1.PodSpec{NodeName: p.Spec.NodeName, ServiceAccountName: p.Spec.ServiceAccountName, ImagePullSecrets: p.Spec.ImagePullSecrets,
		InitContainers: p.Spec.InitContainers, Containers: p.Spec.Containers, EphemeralContainers: p.Spec.EphemeralContainers}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for i := range list {
			s := &list[i]
			*s = corev1.ContainerStatus{Name: s.Name, Image: s.Image, Ready: s.Ready, State: s.State}
		}
	}
	p.Status = corev1.PodStatus{Phase: p.Status.Phase, InitContainerStatuses: p.Status.InitContainerStatuses, ContainerStatuses: p.Status.ContainerStatuses,
		EphemeralContainerStatuses: p.Status.EphemeralContainerStatuses}
	return false
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
