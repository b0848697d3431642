//go:build e2e

package e2enodes

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
