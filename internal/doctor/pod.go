package doctor

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pullReasons are the waiting reasons of a container whose image cannot be had.
var pullReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true, "InvalidImageName": true}

// container is one container of a pod with its status.
type container struct {
	name, image string
	policy      corev1.PullPolicy
	waiting     *corev1.ContainerStateWaiting
	running     bool
}

// failing reports whether the container waits for an image it cannot have. The
// kubelet names some of these failures with the raw error as the reason (a pull
// Secret it cannot parse), so the words count as well as the reason.
func (c container) failing() bool {
	if c.waiting == nil {
		return false
	}
	w := c.waiting
	return pullReasons[w.Reason] || strings.Contains(w.Reason, "auth field") || (w.Reason != "ContainerCreating" && classify(w.Reason+" "+w.Message) != "")
}

// containers lists init, regular and ephemeral containers with their statuses.
func containers(p *corev1.Pod) []container {
	statuses := map[string]corev1.ContainerStatus{}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for _, s := range list {
			statuses[s.Name] = s
		}
	}
	var out []container
	add := func(name, image string, policy corev1.PullPolicy) {
		c := container{name: name, image: image, policy: policy}
		if s, ok := statuses[name]; ok {
			c.waiting, c.running = s.State.Waiting, s.State.Running != nil
		}
		out = append(out, c)
	}
	for _, c := range p.Spec.InitContainers {
		add(c.Name, c.Image, c.ImagePullPolicy)
	}
	for _, c := range p.Spec.Containers {
		add(c.Name, c.Image, c.ImagePullPolicy)
	}
	for _, c := range p.Spec.EphemeralContainers {
		add(c.Name, c.Image, c.ImagePullPolicy)
	}
	return out
}

// owner returns the kubectl name of what recreates the pod (deployment/web), or "".
func owner(p *corev1.Pod) string {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return ""
	}
	switch ref.Kind {
	case "ReplicaSet":
		if hash := p.Labels["pod-template-hash"]; hash != "" && strings.HasSuffix(ref.Name, "-"+hash) {
			return "deployment/" + strings.TrimSuffix(ref.Name, "-"+hash)
		}
		return "replicaset/" + ref.Name
	case "StatefulSet", "DaemonSet", "Job":
		return strings.ToLower(ref.Kind) + "/" + ref.Name
	default:
		return ""
	}
}

// recreate is the command that recreates the pod with what its ServiceAccount has now.
func recreate(p *corev1.Pod) string {
	if o := owner(p); strings.HasPrefix(o, "deployment/") || strings.HasPrefix(o, "statefulset/") || strings.HasPrefix(o, "daemonset/") {
		return "kubectl rollout restart " + o + " -n " + p.Namespace
	}
	return "kubectl delete pod " + p.Name + " -n " + p.Namespace + "   # then create it again"
}

// serviceAccount is the pod's ServiceAccount name.
func serviceAccount(p *corev1.Pod) string {
	if p.Spec.ServiceAccountName != "" {
		return p.Spec.ServiceAccountName
	}
	return "default"
}

// kubeletWords returns what the kubelet said about a container's pull: the waiting
// message and the pull-related events of the pod, newest last.
func kubeletWords(c container, events []corev1.Event) string {
	var parts []string
	if c.waiting != nil && c.waiting.Message != "" {
		parts = append(parts, c.waiting.Message)
	}
	for _, e := range events {
		if e.Reason == "Failed" || e.Reason == "FailedToRetrieveImagePullSecret" || e.Reason == "ErrImageNeverPull" || e.Reason == "InspectFailed" {
			if strings.Contains(e.Message, c.image) || e.Reason == "FailedToRetrieveImagePullSecret" {
				parts = append(parts, e.Message)
			}
		}
	}
	return strings.Join(parts, "\n")
}
