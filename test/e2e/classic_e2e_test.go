//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

// TestClassicImagePullBackOff reproduces the failure every team meets: an image in a
// private registry, no credentials, ImagePullBackOff; then the documented cure (a
// dockerconfigjson Secret, the default ServiceAccount patched, a rollout restart)
// and a Running pod.
func TestClassicImagePullBackOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs, reg := local.Client, local.Registries.Basic
	const ns = "classic"

	image, failing := failingDeployment(ctx, t, reg, ns, "app", "team/app:v1")
	// The kubelet's own words: the registry refused an anonymous pull.
	if _, err := cluster.WaitForEvent(ctx, cs, ns, failing.Name, func(e *corev1.Event) bool {
		return e.Reason == "Failed" && strings.Contains(e.Message, image) && strings.Contains(e.Message, "401 Unauthorized")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WaitForEvent(ctx, cs, ns, failing.Name, func(e *corev1.Event) bool {
		return e.Reason == "BackOff" && strings.Contains(e.Message, "Back-off pulling image")
	}); err != nil {
		t.Fatal(err)
	}

	// The cure, as the Kubernetes documentation gives it.
	alice := registry.UserAlice
	if err := workload.PullSecret(ctx, cs, ns, "regcred", reg.Host, alice, local.Registries.Passwords[alice]); err != nil {
		t.Fatal(err)
	}
	if err := workload.AttachToServiceAccount(ctx, cs, ns, "default", "regcred"); err != nil {
		t.Fatal(err)
	}
	if err := workload.RolloutRestart(ctx, cs, ns, "app"); err != nil {
		t.Fatal(err)
	}
	running, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=app", cluster.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	if running.Name == failing.Name {
		t.Errorf("pod %s runs without being recreated; the ServiceAccount patch cannot have reached it", running.Name)
	}
	if !slices.Contains(running.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "regcred"}) {
		t.Errorf("running pod's imagePullSecrets = %v, want regcred copied from the ServiceAccount", running.Spec.ImagePullSecrets)
	}
	if _, err := cluster.WaitForEvent(ctx, cs, ns, running.Name, func(e *corev1.Event) bool {
		return e.Reason == "Pulled" && strings.Contains(e.Message, image)
	}); err != nil {
		t.Fatal(err)
	}
}
