//go:build e2e

package e2enodes

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

type report struct {
	Findings []struct {
		Code, Severity, Pod, Image string
		Nodes                      []string
		Fix                        []string
	}
}

func doctorJSON(t *testing.T, ns string) (report, int) {
	t.Helper()
	out, errOut, code := regcred(t, "", "doctor", "-n", ns, "-o", "json")
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor -o json: %v\n%s%s", err, out, errOut)
	}
	return r, code
}

func onNodes(nodes ...string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: nodes}}}}}}}
}

func onNode(name string, inner cluster.PodCondition) cluster.PodCondition {
	return func(p *corev1.Pod) (bool, error) {
		if p.Spec.NodeName != name {
			return false, nil
		}
		return inner(p)
	}
}

// TestNodeLocalCredential: the story newcomers know. node1 has a docker login of its
// own, node2 has not; a 2-replica Deployment with no pull Secret runs on node1 and
// fails on node2. doctor names node2's failure NodeLocalCredential and warns that
// node1's pod runs only thanks to its node; the printed fix makes both Running.
func TestNodeLocalCredential(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs, reg := local.Client, local.Registries.Basic
	const ns = "nodes-local"
	img, err := images.Pause(ctx, "nodes")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(ctx, "team/spread:v1", img); err != nil {
		t.Fatal(err)
	}
	if err := workload.Namespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	two, labels := int32(2), map[string]string{"app": "spread"}
	spec := corev1.PodSpec{
		Containers:                    []corev1.Container{{Name: "app", Image: reg.Ref("team/spread:v1")}},
		TerminationGracePeriodSeconds: new(int64),
		Affinity:                      onNodes("node1", "node2"),
	}
	spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: "kubernetes.io/hostname"}}}
	// One pod per node and only two nodes: a rollout must remove a pod before it adds one.
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "spread", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=spread", onNode("node1", cluster.PodRunning)); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=spread", onNode("node2", cluster.PodWaiting("ErrImagePull", "ImagePullBackOff"))); err != nil {
		t.Fatal(err)
	}

	r, code := doctorJSON(t, ns)
	if code != 1 {
		t.Errorf("doctor exit %d, want 1", code)
	}
	var got []string
	var fix []string
	for _, f := range r.Findings {
		got = append(got, f.Severity+":"+f.Code+"@"+strings.Join(f.Nodes, ","))
		if f.Code == "NodeLocalCredential" {
			fix = f.Fix
		}
	}
	slices.Sort(got)
	want := []string{"error:NodeLocalCredential@node2", "warning:ReschedulingRisk@node1"}
	if !slices.Equal(got, want) {
		t.Fatalf("doctor findings = %v, want %v", got, want)
	}
	// The printed fix: a pull Secret and its attachment, never "log in on the other node".
	if len(fix) != 2 || !strings.Contains(fix[0], "kubectl regcred create regcred -n "+ns+" --server "+reg.Host) || !strings.Contains(fix[1], "kubectl regcred attach regcred -n "+ns+" --serviceaccount default --restart") {
		t.Fatalf("fix = %q", fix)
	}
	if _, errOut, code := regcred(t, local.Registries.Passwords[registry.UserAlice], "create", "regcred", "-n", ns, "--server", reg.Host, "--username", registry.UserAlice, "--password-stdin"); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := regcred(t, "", "attach", "regcred", "-n", ns, "--serviceaccount", "default", "--restart"); code != 0 {
		t.Fatal(errOut)
	}
	for _, node := range []string{"node1", "node2"} {
		if _, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=spread", onNode(node, func(p *corev1.Pod) (bool, error) {
			ok, err := cluster.PodRunning(p)
			return ok && len(p.Spec.ImagePullSecrets) > 0, err
		})); err != nil {
			t.Errorf("%s after the fix: %v", node, err)
		}
	}
}

// TestSandboxImagePullFailed: node3's runtime cannot pull its own pause image; a pod
// there never gets a sandbox, and doctor says pull Secrets cannot help, naming node3.
// A healthy pod on node2 gets nothing.
func TestSandboxImagePullFailed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := local.Client
	const ns = "nodes-sandbox"
	if err := workload.Namespace(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	public := local.PauseImage // in the open registry
	for _, p := range []struct{ name, node string }{{"stuck", "node3"}, {"fine", "node2"}} {
		if err := workload.DeploymentWith(ctx, cs, ns, p.name, public, func(s *corev1.PodSpec) { s.NodeName = p.node }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=fine", cluster.PodRunning); err != nil {
		t.Fatal(err)
	}
	stuck, err := cluster.WaitForPodSelected(ctx, cs, ns, "app=stuck", func(p *corev1.Pod) (bool, error) { return p.Spec.NodeName == "node3", nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WaitForEvent(ctx, cs, ns, stuck.Name, func(e *corev1.Event) bool { return e.Reason == "FailedCreatePodSandBox" }); err != nil {
		t.Fatal(err)
	}
	r, code := doctorJSON(t, ns)
	if code != 1 || len(r.Findings) != 1 || r.Findings[0].Code != "SandboxImagePullFailed" || !slices.Equal(r.Findings[0].Nodes, []string{"node3"}) ||
		r.Findings[0].Image != local.Registries.Basic.Ref("regcred/pause:1") || !strings.HasPrefix(r.Findings[0].Pod, "stuck-") {
		t.Errorf("doctor: exit %d, findings %+v", code, r.Findings)
	}
}

// spread deploys replicas of image on node1 and node2, one per node; a rollout removes
// a pod before it adds one.
func spread(ctx context.Context, t *testing.T, ns, name, image string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{
		Containers:                    []corev1.Container{{Name: "app", Image: image}},
		TerminationGracePeriodSeconds: new(int64),
		Affinity:                      onNodes("node1", "node2"),
	}
	spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: "kubernetes.io/hostname"}}}
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}}}}
	if _, err := local.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func cordon(ctx context.Context, t *testing.T, node string, on bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	if _, err := local.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestTLSTrustedOnOneNode: node1 trusts the TLS registry's CA, node2 does not. The
// image runs on node1 and fails on node2 with x509; doctor says RegistryTLSError on
// node2 and that the difference is node2's configuration, not the credentials.
func TestTLSTrustedOnOneNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const ns = "nodes-tls"
	img, err := images.Pause(ctx, "nodes-tls")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Registries.TLS.Push(ctx, "team/tls:v1", img); err != nil {
		t.Fatal(err)
	}
	if err := workload.Namespace(ctx, local.Client, ns); err != nil {
		t.Fatal(err)
	}
	spread(ctx, t, ns, "tls", local.Registries.TLS.Ref("team/tls:v1"), 2)
	if _, err := cluster.WaitForPodSelected(ctx, local.Client, ns, "app=tls", onNode("node1", cluster.PodRunning)); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WaitForPodSelected(ctx, local.Client, ns, "app=tls", onNode("node2", cluster.PodWaiting("ErrImagePull", "ImagePullBackOff"))); err != nil {
		t.Fatal(err)
	}
	out, _, code := regcred(t, "", "doctor", "-n", ns, "-o", "json")
	var r struct {
		Findings []struct {
			Code, Severity, Message string
			Nodes                   []string
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if code != 1 || len(r.Findings) != 1 || r.Findings[0].Code != "RegistryTLSError" || !slices.Equal(r.Findings[0].Nodes, []string{"node2"}) ||
		!strings.Contains(r.Findings[0].Message, "the image runs on node1, so the difference is node2's own configuration") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}

	// --probe-node: node2's own view of the registry, from a pod on node2.
	probe, err := images.Regcred(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Registries.Open.Push(ctx, "regcred/regcred:test", probe); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := regcred(t, "", "doctor", "-n", ns, "--probe-node", "--probe-image", local.Registries.Open.Ref("regcred/regcred:test"), "--probe-certs-dir", local.CertsDirPattern())
	if code != 1 || !strings.Contains(out, "probe from node2 (anonymous): RegistryTLSError") || !strings.Contains(out, "unknown authority") {
		t.Errorf("doctor --probe-node: exit %d\n%s%s", code, out, errOut)
	}
	// An image the node cannot pull: the probe is unavailable, and says why.
	out, errOut, code = regcred(t, "", "doctor", "-n", ns, "--probe-node", "--probe-image", local.Registries.Open.Ref("regcred/nothing:1"), "--probe-certs-dir", local.CertsDirPattern())
	if code != 1 || !strings.Contains(out, "probe from node2 unavailable: the probe image") {
		t.Errorf("doctor --probe-node with an image that cannot run: exit %d\n%s%s", code, out, errOut)
	}
	// A certs folder the node does not have: nothing is created on the node, and the
	// probe says why it could not run.
	out, errOut, code = regcred(t, "", "doctor", "-n", ns, "--probe-node", "--probe-image", local.Registries.Open.Ref("regcred/regcred:test"), "--probe-certs-dir", "/nonexistent/{node}/certs.d", "--probe-timeout", "15s")
	if code != 1 || !strings.Contains(out, "probe from node2 unavailable") || !strings.Contains(out, "FailedMount") {
		t.Errorf("doctor --probe-node with a missing certs folder: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat("/nonexistent"); err == nil {
		t.Error("the probe created the certs folder on the node")
	}
	pods, err := local.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=regcred-probe"})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("probe pods left after doctor: %v %v", err, pods)
	}
}

// TestReschedulingRisk: a pod Running on node1 thanks to node1's own login gets a
// warning before anything fails; drained off node1, it fails on node2 as predicted.
func TestReschedulingRisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const ns = "nodes-resched"
	img, err := images.Pause(ctx, "nodes-resched")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Registries.Basic.Push(ctx, "team/solo:v1", img); err != nil {
		t.Fatal(err)
	}
	if err := workload.Namespace(ctx, local.Client, ns); err != nil {
		t.Fatal(err)
	}
	cordon(ctx, t, "node2", true) // so that the pod lands on node1
	spread(ctx, t, ns, "solo", local.Registries.Basic.Ref("team/solo:v1"), 1)
	_, err = cluster.WaitForPodSelected(ctx, local.Client, ns, "app=solo", onNode("node1", cluster.PodRunning))
	cordon(ctx, t, "node2", false)
	if err != nil {
		t.Fatal(err)
	}
	out, _, code := regcred(t, "", "doctor", "-n", ns)
	if code != 0 || !strings.Contains(out, "! warning  ReschedulingRisk") || !strings.Contains(out, "runs on node1") {
		t.Fatalf("doctor before the drain: exit %d\n%s", code, out)
	}
	// Drain node1: cordon it and evict the pod.
	cordon(ctx, t, "node1", true)
	defer cordon(context.Background(), t, "node1", false)
	if err := local.Client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=solo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WaitForPodSelected(ctx, local.Client, ns, "app=solo", onNode("node2", cluster.PodWaiting("ErrImagePull", "ImagePullBackOff"))); err != nil {
		t.Errorf("after the drain: %v", err)
	}
}
