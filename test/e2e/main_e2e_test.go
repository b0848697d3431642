//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

// local is the cluster every test of the package shares; each test works in
// namespaces of its own.
var local *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	c, err := cluster.Start(context.Background(), cluster.Options{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local cluster:", err)
		return 1
	}
	local = c
	code := m.Run()
	if code != 0 {
		for _, d := range []string{"kubelet-node1", "containerd-node1"} {
			fmt.Fprintf(os.Stderr, "--- last lines of the %s log:\n%s\n", d, c.LogTail(d, 25))
		}
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

// failingDeployment pushes an image to a registry that needs credentials, deploys it in
// a new namespace without any, and waits for its pod to reach ImagePullBackOff.
func failingDeployment(ctx context.Context, t *testing.T, reg *registry.Registry, ns, name, repoTag string) (string, *corev1.Pod) {
	t.Helper()
	img, err := images.Pause(ctx, ns+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(ctx, repoTag, img); err != nil {
		t.Fatal(err)
	}
	image := reg.Ref(repoTag)
	if err := workload.Namespace(ctx, local.Client, ns); err != nil {
		t.Fatal(err)
	}
	if err := workload.Deployment(ctx, local.Client, ns, name, image); err != nil {
		t.Fatal(err)
	}
	pod, err := cluster.WaitForPodSelected(ctx, local.Client, ns, "app="+name, cluster.PodWaiting("ImagePullBackOff"))
	if err != nil {
		t.Fatal(err)
	}
	return image, pod
}
