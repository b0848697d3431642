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
)

// regcred runs `kubectl regcred ARGS...` in-process against the local cluster.
func regcred(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return local.Regcred(stdin, args...)
}

// TestRegcredFixesImagePullBackOff is the classic failure cured with regcred instead of
// the recipe: create (checked against the token registry) and attach --restart.
func TestRegcredFixesImagePullBackOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs, reg := local.Client, local.Registries.Token
	const ns = "regcred-fix"
	image, _ := failingDeployment(ctx, t, reg, ns, "api", "team/api:v1")

	// bob is a valid user without the pull right: verify says so before anything runs.
	bob := registry.UserBob
	if _, errOut, code := regcred(t, local.Registries.Passwords[bob], "create", "bob", "-n", ns, "--server", reg.Host, "--username", bob, "--password-stdin"); code != 0 {
		t.Fatalf("create bob: %s", errOut)
	}
	out, _, code := regcred(t, "", "verify", "bob", "-n", ns, "--image", image)
	if code != 1 || !strings.Contains(out, "AccessDenied") {
		t.Errorf("verify bob: exit %d, %s; want 1 and AccessDenied", code, out)
	}

	alice := registry.UserAlice
	if _, errOut, code := regcred(t, local.Registries.Passwords[alice], "create", "regcred", "-n", ns, "--server", reg.Host, "--username", alice, "--password-stdin", "--attach", "default"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	if out, errOut, code := regcred(t, "", "verify", "regcred", "-n", ns, "--image", image); code != 0 {
		t.Fatalf("verify regcred: exit %d, %s %s", code, out, errOut)
	}
	out, errOut, code := regcred(t, "", "attach", "regcred", "--serviceaccount", "default", "-n", ns, "--restart")
	if code != 0 || !strings.Contains(out, "Deployment/api in "+ns+" restarted") {
		t.Fatalf("attach --restart: exit %d, %s %s", code, out, errOut)
	}
	running, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=api", cluster.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(running.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "regcred"}) {
		t.Errorf("running pod's imagePullSecrets = %v, want regcred from the ServiceAccount", running.Spec.ImagePullSecrets)
	}
}
