//go:build e2e

package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
)

// TestTwoNodesWithNodeLocalAuth: node1's runtime has credentials of its own for the
// basic-auth registry (a docker login on that node), node2's has none. A 2-replica
// Deployment spread over both nodes, with no pull Secret, runs on node1 and fails
// with 401 on node2. Then Stop leaves the host as it was, both nodes' runtimes included.
func TestTwoNodesWithNodeLocalAuth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	before := snapshotHost(t)
	c, err := cluster.Start(ctx, cluster.Options{Nodes: 2, Progress: testWriter{t}, Node: []cluster.NodeOptions{{LoginAs: registry.UserAlice}}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	for i, want := range []string{"10.245.0.1", "10.245.1.1"} {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, c.Nodes[i].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Status.Addresses[0].Address; got != want {
			t.Errorf("%s InternalIP = %s, want %s", n.Name, got, want)
		}
	}

	img, err := images.Pause(ctx, "two-nodes")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Registries.Basic.Push(ctx, "team/spread:v1", img); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	labels := map[string]string{"app": "spread"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "spread", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: c.Registries.Basic.Ref("team/spread:v1")}},
				Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: "kubernetes.io/hostname"}}}},
				TerminationGracePeriodSeconds: new(int64),
			}}},
	}
	if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	onNode := func(name string, inner cluster.PodCondition) cluster.PodCondition {
		return func(p *corev1.Pod) (bool, error) {
			if p.Spec.NodeName != name {
				return false, nil
			}
			return inner(p)
		}
	}
	if _, err := cluster.WaitForPodSelected(ctx, c.Client, "default", "app=spread", onNode("node1", cluster.PodRunning)); err != nil {
		t.Errorf("node1 (with its own login): %v", err)
	}
	failing, err := cluster.WaitForPodSelected(ctx, c.Client, "default", "app=spread", onNode("node2", cluster.PodWaiting("ErrImagePull", "ImagePullBackOff")))
	if err != nil {
		t.Fatalf("node2 (without): %v", err)
	}
	if _, err := cluster.WaitForEvent(ctx, c.Client, "default", failing.Name, func(e *corev1.Event) bool {
		return e.Reason == "Failed" && strings.Contains(e.Message, "401 Unauthorized")
	}); err != nil {
		t.Error(err)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if left := before.diff(snapshotHost(t, c.Dir)); len(left) > 0 {
		t.Errorf("the host differs after Stop:\n%s", strings.Join(left, "\n"))
	}
}
