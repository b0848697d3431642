package doctor

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/verify"
)

func onNode(p corev1.Pod, node string) corev1.Pod {
	p.Spec.NodeName = node
	return p
}

func TestNodeSide(t *testing.T) {
	const image = "reg.example.com/team/app:1"
	refused := backoff(`failed to resolve reference "` + image + `": pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`)
	t.Run("runs on a node with its own login, fails on another", func(t *testing.T) {
		running, failing := onNode(podWith("a", image, nil), "node1"), onNode(podWith("b", image, refused), "node2")
		failing.UID = "uid-b"
		r := Diagnose(context.Background(), snapshot([]corev1.Pod{running, failing}), Options{})
		if got := codes(r); got != "error:NodeLocalCredential" {
			t.Fatalf("findings = %q", got)
		}
		if f := r.Findings[0]; f.Pod != "b" || len(f.Nodes) != 1 || f.Nodes[0] != "node2" {
			t.Errorf("finding = %+v, want pod b on node2", f)
		}
	})
	t.Run("sandbox image", func(t *testing.T) {
		p := onNode(podWith("s", image, &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}), "node2")
		s := snapshot([]corev1.Pod{p})
		s.Events[podKey(&p)] = []corev1.Event{{Reason: "FailedCreatePodSandBox", Message: `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox image "127.0.0.1:5000/regcred/pause:1": failed to pull image "127.0.0.1:5000/regcred/pause:1": failed to pull and unpack image "127.0.0.1:5000/regcred/pause:1": 401 Unauthorized`}}
		r := Diagnose(context.Background(), s, Options{})
		if got := codes(r); got != "error:SandboxImagePullFailed" || r.Findings[0].Image != "127.0.0.1:5000/regcred/pause:1" {
			t.Errorf("findings = %q: %+v", got, r.Findings)
		}
	})
	t.Run("running only thanks to the node", func(t *testing.T) {
		anonymousRefused := func(_ context.Context, _ string, cred *dockercfg.Credential) (verify.Result, error) {
			if cred == nil {
				return verify.Result{Outcome: verify.AuthRequired, Detail: "the registry requires Basic authentication"}, nil
			}
			return verify.Result{Outcome: verify.OK}, nil
		}
		r := Diagnose(context.Background(), snapshot([]corev1.Pod{onNode(podWith("a", image, nil), "node1")}), Options{Probe: anonymousRefused})
		if got := codes(r); got != "warning:ReschedulingRisk" {
			t.Errorf("findings = %q", got)
		}
		public := func(context.Context, string, *dockercfg.Credential) (verify.Result, error) {
			return verify.Result{Outcome: verify.OK}, nil
		}
		if got := codes(Diagnose(context.Background(), snapshot([]corev1.Pod{onNode(podWith("a", "nginx", nil), "node1")}), Options{Probe: public})); got != "" {
			t.Errorf("a public image got %q", got)
		}
	})
}
