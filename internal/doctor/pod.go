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
	waiting     *corev1.ContainerStateWaiting
	running     bool
	ephemeral   bool
}

// failing reports whether the container waits for an image it cannot have. Besides
// its named reasons, the kubelet puts the raw text of an error in getting pull
// credentials in the reason: a pull Secret it cannot parse ("illegal base64 data at
// input byte 8", "json: cannot unmarshal ...", "unable to parse auth field ..."). Its
// named reasons are single words; only such raw errors have spaces.
func (c container) failing() bool {
	if c.waiting == nil {
		return false
	}
	return pullReasons[c.waiting.Reason] || strings.Contains(c.waiting.Reason, " ")
}

// stuck reports whether the container has not started: it waits, for any reason, or
// has no state yet in a pod still pending. With a pull Secret the kubelet cannot
// parse, such a container never starts.
func (c container) stuck(p *corev1.Pod) bool {
	return c.waiting != nil || (!c.running && p.Status.Phase == corev1.PodPending)
}

// containers lists init, regular and ephemeral containers with their statuses.
func containers(p *corev1.Pod) []container {
	out := make([]container, 0, len(p.Spec.InitContainers)+len(p.Spec.Containers)+len(p.Spec.EphemeralContainers))
	add := func(name, image string, ephemeral bool) {
		c := container{name: name, image: image, ephemeral: ephemeral}
		for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
			for i := range list {
				if s := &list[i]; s.Name == name {
					c.waiting, c.running = s.State.Waiting, s.State.Running != nil
				}
			}
		}
		out = append(out, c)
	}
	for _, c := range p.Spec.InitContainers {
		add(c.Name, c.Image, false)
	}
	for _, c := range p.Spec.Containers {
		add(c.Name, c.Image, false)
	}
	for _, c := range p.Spec.EphemeralContainers {
		add(c.Name, c.Image, true)
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

// serviceAccount is the pod's ServiceAccount name.
func serviceAccount(p *corev1.Pod) string {
	if p.Spec.ServiceAccountName != "" {
		return p.Spec.ServiceAccountName
	}
	return "default"
}

// podKey indexes a pod's events: by UID, so that a recreated pod of the same name
// does not inherit them.
func podKey(p *corev1.Pod) string {
	if p.UID != "" {
		return string(p.UID)
	}
	return key(p.Namespace, p.Name)
}

// kubeletWords returns what the kubelet said about a container's pull: the waiting
// reason and message first, then the pod's pull events about this image, newest first.
func kubeletWords(c container, events []corev1.Event) []string {
	var words []string
	if w := c.waiting; w != nil && (w.Message != "" || !pullReasons[w.Reason]) {
		words = append(words, strings.TrimSpace(w.Reason+": "+w.Message))
	}
	quoted := `"` + c.image + `"`
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		switch {
		case e.Reason == "FailedToRetrieveImagePullSecret":
			words = append(words, e.Message)
		case (e.Reason == "Failed" || e.Reason == "ErrImageNeverPull" || e.Reason == "InspectFailed") && strings.Contains(e.Message, quoted):
			words = append(words, e.Message)
		}
	}
	return words
}
