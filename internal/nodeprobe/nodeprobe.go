// Package nodeprobe sees a registry from a node: it runs a short-lived pod of
// regcred's own image, pinned to the node, on the host network, with the runtime's
// registry configuration folder mounted read-only, that resolves the registry, connects,
// completes TLS with the node's trust and pings /v2/ without credentials
// (`kubectl regcred probe-registry`). The pod is deleted afterwards, whatever happens.
package nodeprobe

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/verify"
)

// Options say how to probe.
type Options struct {
	// Image is regcred's image (its entrypoint is kubectl-regcred).
	Image string
	// CertsDir is the runtime's registry configuration folder on the node;
	// "{node}" is replaced by the node's name.
	CertsDir string
	// Timeout bounds one probe, pod start included (default 60 s).
	Timeout time.Duration
}

// Report is the node's view of a registry.
type Report struct {
	// Host is the registry as images name it (docker.io for Docker Hub).
	Host string `json:"host"`
	// Resolved are the addresses of the endpoint Result is about.
	Resolved []string `json:"resolved,omitempty"`
	// HostsDir is the folder containerd reads for Host (certs.d/HOST,
	// certs.d/HOST_PORT_ or certs.d/_default); empty when it uses its defaults.
	HostsDir string `json:"hostsDir,omitempty"`
	// Endpoints are the hosts containerd tries for a pull, in its order.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Notes are what containerd said while reading HostsDir (a hosts.toml it ignores).
	Notes []string `json:"notes,omitempty"`
	// Result is what a pull would meet: the first endpoint that resolves tags and
	// answers, or else the first that failed.
	Result verify.Result `json:"result"`
}

// Run probes host from node with a pod in namespace.
func Run(ctx context.Context, cs kubernetes.Interface, namespace, node, host string, opts Options) (Report, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	certs := strings.ReplaceAll(opts.CertsDir, "{node}", node)
	dirType := corev1.HostPathDirectory // never create anything on the node
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred-probe-" + rand.String(6), Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/name": "regcred-probe"}},
		Spec: corev1.PodSpec{
			NodeName:      node,
			HostNetwork:   true,
			RestartPolicy: corev1.RestartPolicyNever,
			Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:         "probe",
				Image:        opts.Image,
				Command:      []string{"/kubectl-regcred", "probe-registry", host, "--certs-dir", certs},
				VolumeMounts: []corev1.VolumeMount{{Name: "certs", MountPath: certs, ReadOnly: true}},
			}},
			Volumes:                       []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: certs, Type: &dirType}}}},
			TerminationGracePeriodSeconds: new(int64),
		},
	}
	created, err := cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{FieldManager: "kubectl-regcred"})
	if err != nil {
		return Report{}, fmt.Errorf("create probe pod in %s: %w", namespace, err)
	}
	defer func() {
		// Deleted even when the caller's context is cancelled (Ctrl-C).
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer dcancel()
		_ = cs.CoreV1().Pods(namespace).Delete(dctx, created.Name, metav1.DeleteOptions{})
	}()
	if err := waitDone(ctx, cs, namespace, created.Name); err != nil {
		return Report{}, fmt.Errorf("%w%s", err, lastEvent(context.WithoutCancel(ctx), cs, namespace, created.Name))
	}
	logs, err := cs.CoreV1().Pods(namespace).GetLogs(created.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("read probe output: %w", err)
	}
	var r Report
	if err := json.Unmarshal(logs, &r); err != nil {
		return Report{}, fmt.Errorf("probe output is not a report: %.200s", logs)
	}
	return r, nil
}

// lastEvent is ": REASON: message" of the probe pod's newest warning (a FailedMount for
// a certs folder the node does not have), or "".
func lastEvent(ctx context.Context, cs kubernetes.Interface, namespace, name string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	evs, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil || len(evs.Items) == 0 {
		return ""
	}
	for i := len(evs.Items) - 1; i >= 0; i-- {
		if e := evs.Items[i]; e.Type == corev1.EventTypeWarning {
			return ": " + e.Reason + ": " + e.Message
		}
	}
	return ""
}

// waitDone watches the probe pod until it has ended, or says why it cannot run.
func waitDone(ctx context.Context, cs kubernetes.Interface, namespace, name string) error {
	w, err := cs.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return fmt.Errorf("watch probe pod: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("probe pod did not finish: %w", ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("probe pod watch ended")
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				return nil
			}
			for _, s := range p.Status.ContainerStatuses {
				if w := s.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName" || w.Reason == "CreateContainerConfigError") {
					return fmt.Errorf("the probe image %s cannot run on the node: %s: %s", s.Image, w.Reason, w.Message)
				}
			}
		}
	}
}
