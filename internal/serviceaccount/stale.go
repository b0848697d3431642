package serviceaccount

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Workload is what owns a pod: Deployment, StatefulSet, DaemonSet, or the pod's own
// controller kind (ReplicaSet, Job, ...) when nothing above it, or "Pod" for a bare pod.
type Workload struct {
	Kind, Name string
}

func (w Workload) String() string { return w.Kind + "/" + w.Name }

// Restartable reports whether a rollout restart recreates the workload's pods.
func (w Workload) Restartable() bool {
	return w.Kind == "Deployment" || w.Kind == "StatefulSet" || w.Kind == "DaemonSet"
}

// StalePod is a pod of the ServiceAccount that does not carry the Secret.
type StalePod struct {
	Pod   string
	Owner Workload
	// OwnList reports whether the owner's pod template sets imagePullSecrets itself:
	// the admission plugin then copies nothing from the ServiceAccount, even into a
	// recreated pod, and the Secret belongs in the template.
	OwnList bool
}

// StalePods lists the pods that run as one of the ServiceAccounts and lack the Secret
// in their imagePullSecrets, with the workload that owns each.
func StalePods(ctx context.Context, cs kubernetes.Interface, namespace string, serviceAccounts []string, secret string) ([]StalePod, error) {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", namespace, err)
	}
	recreators := NewRecreators(cs)
	var out []StalePod
	for _, p := range pods.Items {
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		if !slices.Contains(serviceAccounts, sa) || slices.Contains(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: secret}) {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		rec, err := recreators.For(ctx, &p)
		if err != nil {
			return nil, err
		}
		out = append(out, StalePod{Pod: p.Name, Owner: rec.Owner, OwnList: rec.Origin() == OriginTemplate})
	}
	return out, nil
}

// Restart does `kubectl rollout restart` for a Deployment, StatefulSet or DaemonSet.
func Restart(ctx context.Context, cs kubernetes.Interface, namespace string, w Workload, at metav1.Time) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, at.UTC().Format("2006-01-02T15:04:05Z")))
	opts := metav1.PatchOptions{FieldManager: "kubectl-regcred"}
	var err error
	switch w.Kind {
	case "Deployment":
		_, err = cs.AppsV1().Deployments(namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, opts)
	case "StatefulSet":
		_, err = cs.AppsV1().StatefulSets(namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, opts)
	case "DaemonSet":
		_, err = cs.AppsV1().DaemonSets(namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, opts)
	default:
		return fmt.Errorf("restart %s in %s: only Deployments, StatefulSets and DaemonSets can be restarted; delete the pod to recreate it", w, namespace)
	}
	if err != nil {
		return fmt.Errorf("restart %s in %s: %w", w, namespace, err)
	}
	return nil
}
