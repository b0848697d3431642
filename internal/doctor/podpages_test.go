package doctor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// project is, written out on the decoded pod, what decodePod keeps: the oracle of the
// tests below.
func project(p corev1.Pod) (corev1.Pod, bool) {
	p.ManagedFields = nil
	if waiting(&p) {
		if p.Annotations != nil {
			a := map[string]string{}
			for k, v := range p.Annotations {
				if k != lastApplied {
					a[k] = v
				}
			}
			p.Annotations = a
		}
		return p, true
	}
	out := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, Labels: p.Labels, OwnerReferences: p.OwnerReferences},
		Spec:   corev1.PodSpec{NodeName: p.Spec.NodeName, ServiceAccountName: p.Spec.ServiceAccountName, ImagePullSecrets: p.Spec.ImagePullSecrets},
		Status: corev1.PodStatus{Phase: p.Status.Phase}}
	keep := func(cs []corev1.Container) []corev1.Container {
		var out []corev1.Container
		for _, c := range cs {
			out = append(out, corev1.Container{Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy})
		}
		return out
	}
	out.Spec.InitContainers, out.Spec.Containers = keep(p.Spec.InitContainers), keep(p.Spec.Containers)
	for _, c := range p.Spec.EphemeralContainers {
		out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy}})
	}
	statuses := func(ss []corev1.ContainerStatus) []corev1.ContainerStatus {
		var out []corev1.ContainerStatus
		for _, s := range ss {
			out = append(out, corev1.ContainerStatus{Name: s.Name, State: s.State, Ready: s.Ready})
		}
		return out
	}
	out.Status.InitContainerStatuses, out.Status.ContainerStatuses, out.Status.EphemeralContainerStatuses = statuses(p.Status.InitContainerStatuses), statuses(p.Status.ContainerStatuses), statuses(p.Status.EphemeralContainerStatuses)
	return out, false
}

// fullPod is a pod with a bit of everything a real one carries.
func fullPod(states ...corev1.ContainerState) corev1.Pod {
	t := metav1.Now().Rfc3339Copy()
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc12-x", Namespace: "team", UID: "uid-1", ResourceVersion: "7", Labels: map[string]string{"app": "web", "pod-template-hash": "abc12"},
			Annotations:     map[string]string{"team": "payments", lastApplied: `{"kind":"Pod"}`},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc12", UID: "rs-1", Controller: new(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:spec":{}}`)}}},
		Spec: corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "web", ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}, {Name: "other"}},
			InitContainers: []corev1.Container{{Name: "init", Image: "reg.example.com/init:1", ImagePullPolicy: corev1.PullAlways, Command: []string{"sh"}}},
			Containers: []corev1.Container{{Name: "app", Image: "reg.example.com/app:1", ImagePullPolicy: corev1.PullIfNotPresent, Env: []corev1.EnvVar{{Name: "A", Value: "b"}},
				Ports: []corev1.ContainerPort{{ContainerPort: 80}}}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullNever, Stdin: true}, TargetContainerName: "app"}},
			Tolerations:         []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}, RestartPolicy: corev1.RestartPolicyAlways},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: t}}},
	}
	for i, c := range []string{"init", "app", "debug"} {
		st := corev1.ContainerStatus{Name: c, Image: "img-" + c, ImageID: "sha256:00", ContainerID: "containerd://1", Ready: true, State: states[i]}
		switch i {
		case 0:
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, st)
		case 1:
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, st)
		default:
			p.Status.EphemeralContainerStatuses = append(p.Status.EphemeralContainerStatuses, st)
		}
	}
	return p
}

func TestDecodePodKeepsWhatTheChecksRead(t *testing.T) {
	t0 := metav1.Now().Rfc3339Copy()
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t0}}
	done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: t0, FinishedAt: t0}}
	backoff := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "401 Unauthorized"}}
	noStatus := fullPod(done, running, running)
	noStatus.Status.EphemeralContainerStatuses = nil
	for _, tt := range []struct {
		name  string
		pod   corev1.Pod
		whole bool
	}{
		{"all run or are done: stripped", fullPod(done, running, running), false},
		{"an init container waits: whole", fullPod(backoff, running, running), true},
		{"a container waits: whole", fullPod(done, backoff, running), true},
		{"an ephemeral container waits: whole", fullPod(done, running, backoff), true},
		{"a container has no status yet: whole", noStatus, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.pod.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, whole, _, err := decodePod(raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, wantWhole := project(tt.pod)
			if whole != tt.whole || wantWhole != tt.whole {
				t.Errorf("kept whole: %v (oracle %v), want %v", whole, wantWhole, tt.whole)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decoded pod (-want +got):\n%s", diff)
			}
			if got.ManagedFields != nil || got.Annotations[lastApplied] != "" {
				t.Errorf("kept managed fields or the last-applied copy: %+v", got.ObjectMeta)
			}
			if !whole && (len(got.Spec.Containers[0].Env) > 0 || got.Spec.RestartPolicy != "" || len(got.Status.Conditions) > 0 || got.Annotations != nil) {
				t.Errorf("a running pod kept what no check reads: %+v", got)
			}
		})
	}
}

// FuzzDecodePod: on any bytes decodePod returns or fails, never panics; and on any
// bytes that decode as a pod, it keeps exactly what the oracle keeps (or refuses a
// malformed group, which the generated code lets pass).
func FuzzDecodePod(f *testing.F) {
	t0 := metav1.Now().Rfc3339Copy()
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t0}}
	backoff := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
	for _, p := range []corev1.Pod{fullPod(running, running, running), fullPod(backoff, running, running), {}} {
		raw, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, whole, _, err := decodePod(raw, nil)
		var full corev1.Pod
		if full.Unmarshal(raw) != nil {
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "group") {
				// gogo's generated code skips an unknown field that is a malformed
				// group (a wire type no Kubernetes type uses); protowire refuses it.
				return
			}
			t.Fatalf("decodePod fails on a pod that decodes whole: %v", err)
		}
		want, wantWhole := project(full)
		if whole != wantWhole {
			t.Fatalf("kept whole: %v, oracle %v", whole, wantWhole)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decoded pod (-oracle +got):\n%s", diff)
		}
	})
}
