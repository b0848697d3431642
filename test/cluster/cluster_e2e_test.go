//go:build e2e

package cluster_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/test/cluster"
)

// TestStartStop brings a cluster up, runs a pod on it, and checks that Stop leaves
// the host as it was: no process, mount, bridge, route, iptables chain or rule,
// kernel setting, file or cgroup of the cluster.
func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	before := snapshotHost(t)
	c, err := cluster.Start(ctx, cluster.Options{Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()

	node, err := c.Client.CoreV1().Nodes().Get(ctx, c.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var internalIP string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			internalIP = a.Address
		}
	}
	if internalIP != "10.245.0.1" {
		t.Errorf("node InternalIP = %q, want the bridge address 10.245.0.1", internalIP)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: c.PauseImage}}},
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitForPod(ctx, c.Client, "default", "smoke", cluster.PodRunning); err != nil {
		t.Fatalf("%v\nkubelet:\n%s", err, c.LogTail("kubelet-node1", 30))
	}
	// The pod has its subnet route and nothing else: no way off the machine.
	out, err := exec.CommandContext(ctx, "ip", "route").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "blackhole 10.96.0.0/12") {
		t.Errorf("host routes lack the Service range blackhole:\n%s", out)
	}

	pids := c.Pids()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + itoa(pid)); err == nil {
			t.Errorf("pid %d still runs after Stop", pid)
		}
	}
	if left := before.diff(snapshotHost(t, c.Dir)); len(left) > 0 {
		t.Errorf("the host differs after Stop:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(c.Dir); err == nil {
		t.Errorf("cluster folder %s left after Stop", c.Dir)
	}
}
