package doctor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/apiserver"
)

// TestGatherStripsWithoutChangingFindings gathers pods of every kind from a real
// kube-apiserver, stripped as their pages arrive, and checks that the findings are
// the same as over the whole objects, read again from the API server: what stripping
// dropped, no check read.
func TestGatherStripsWithoutChangingFindings(t *testing.T) {
	ctx := context.Background()
	srv, err := apiserver.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "strip"
	seedStripCases(t, cs, ns)

	// One registry answer per image and credential: the registry's answers are this
	// test's input, what it checks is what gathering kept.
	probe := func(_ context.Context, image string, cred *dockercfg.Credential) (verify.Result, error) {
		switch {
		case cred == nil:
			return verify.Result{Outcome: verify.AuthRequired, Detail: "the registry requires Basic authentication"}, nil
		case cred.Username == "alice":
			return verify.Result{Outcome: verify.CredentialRejected, Detail: "401 Unauthorized"}, nil
		}
		return verify.Result{Outcome: verify.OK}, nil
	}
	// One page each: TestGatherPages pages through lists in small pages.
	for _, tt := range []struct {
		name  string
		scope doctor.Scope
		opts  doctor.Options
	}{
		{"one namespace, with registry answers", doctor.Scope{Namespace: ns}, doctor.Options{Probe: probe}},
		{"one namespace, offline", doctor.Scope{Namespace: ns}, doctor.Options{}},
		{"all namespaces", doctor.Scope{}, doctor.Options{Probe: probe}},
		{"named pods", doctor.Scope{Namespace: ns, Pods: []string{"rejected", "web-abc12-run1", "done"}}, doctor.Options{Probe: probe}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stripped, err := doctor.Gather(ctx, cs, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			whole := wholeSnapshot(t, cs, stripped, tt.scope)
			got := doctor.Diagnose(ctx, stripped, tt.opts)
			want := doctor.Diagnose(ctx, whole, tt.opts)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings over stripped pods differ from those over whole pods (-whole +stripped):\n%s", diff)
			}
			if len(want.Findings) == 0 {
				t.Fatal("no findings at all: the comparison shows nothing")
			}
		})
	}

	t.Run("every kind of finding is there", func(t *testing.T) {
		snap, err := doctor.Gather(ctx, cs, doctor.Scope{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{} // pod: severity:code,...
		for _, f := range doctor.Diagnose(ctx, snap, doctor.Options{Probe: probe}).Findings {
			got[f.Pod] = strings.TrimPrefix(got[f.Pod]+","+string(f.Severity)+":"+string(f.Code), ",")
		}
		want := map[string]string{
			"rejected":        "error:CredentialRejected",
			"missing":         "error:SecretNotFound",
			"wrongtype":       "error:SecretWrongType",
			"malformed":       "error:SecretMalformed",
			"badname":         "error:InvalidImageName",
			"nodelocal":       "error:NodeLocalCredential",
			"sandbox":         "error:SandboxImagePullFailed",
			"web-abc12-run1":  "warning:ReschedulingRisk",
			"web-abc12-run2":  "warning:ReschedulingRisk",
			"rejected-runner": "warning:CredentialRejected",
			"runs-private":    "warning:ReschedulingRisk",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("findings by pod (-want +got):\n%s", diff)
		}
		if f := findingOf(doctor.Diagnose(ctx, snap, doctor.Options{Probe: probe}), "web-abc12-run1"); f == nil || !strings.Contains(strings.Join(f.Fix, "\n"), "of Deployment/web") {
			t.Errorf("the fix for a running pod of a Deployment does not name it: %+v", f)
		}
	})

	t.Run("what is kept", func(t *testing.T) {
		snap, err := doctor.Gather(ctx, cs, doctor.Scope{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		whole := map[string]corev1.Pod{}
		for _, p := range wholeSnapshot(t, cs, snap, doctor.Scope{Namespace: ns}).Pods {
			whole[p.Name] = p
		}
		for _, p := range snap.Pods {
			w := whole[p.Name]
			if len(p.ManagedFields) > 0 {
				t.Errorf("pod %s kept its managed fields", p.Name)
			}
			if _, ok := p.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
				t.Errorf("pod %s kept kubectl's last-applied copy", p.Name)
			}
			c := p.Spec.Containers[0]
			switch running := p.Status.ContainerStatuses[0].State.Waiting == nil; {
			case running && (len(c.Env) > 0 || len(p.Annotations) > 0 || p.Spec.RestartPolicy != "" || len(p.Status.Conditions) > 0):
				t.Errorf("running pod %s kept what no check reads: env %v, annotations %v, restartPolicy %q, conditions %v", p.Name, c.Env, p.Annotations, p.Spec.RestartPolicy, p.Status.Conditions)
			case running:
				if diff := cmp.Diff(checked(w), checked(p)); diff != "" {
					t.Errorf("running pod %s lost what the checks read (-whole +stripped):\n%s", p.Name, diff)
				}
			case !running && (len(c.Env) == 0 || p.Annotations["team"] == "" || p.Spec.RestartPolicy == "" || len(p.Status.Conditions) == 0):
				t.Errorf("waiting pod %s was not kept whole: %+v", p.Name, p)
			}
		}
		kept := map[string]bool{} // pods whose events were kept
		for _, events := range snap.Events {
			for _, e := range events {
				kept[e.InvolvedObject.Name] = true
				if len(e.ManagedFields) > 0 {
					t.Errorf("event %s of pod %s kept its managed fields", e.Reason, e.InvolvedObject.Name)
				}
			}
		}
		if want := map[string]bool{"rejected": true, "nodelocal": true, "sandbox": true}; !cmp.Equal(kept, want) {
			t.Errorf("kept the events of pods %v, want those of the waiting pods that have events, %v", kept, want)
		}
		for k, s := range snap.Secrets {
			if len(s.ManagedFields) > 0 || s.Annotations["kubectl.kubernetes.io/last-applied-configuration"] != "" {
				t.Errorf("Secret %s kept its managed fields or last-applied copy", k)
			}
		}
	})
}

// checked is what the checks read of a pod that runs.
func checked(p corev1.Pod) map[string]any {
	var containers []string
	for _, c := range p.Spec.Containers {
		containers = append(containers, c.Name+" "+c.Image+" "+string(c.ImagePullPolicy))
	}
	var states []corev1.ContainerState
	for _, s := range p.Status.ContainerStatuses {
		states = append(states, s.State)
	}
	return map[string]any{"name": p.Namespace + "/" + p.Name, "uid": p.UID, "labels": p.Labels, "owners": p.OwnerReferences, "node": p.Spec.NodeName,
		"serviceAccount": p.Spec.ServiceAccountName, "pullSecrets": p.Spec.ImagePullSecrets, "containers": containers, "phase": p.Status.Phase, "states": states}
}

func findingOf(r doctor.Report, pod string) *doctor.Finding {
	for i := range r.Findings {
		if r.Findings[i].Pod == pod {
			return &r.Findings[i]
		}
	}
	return nil
}

// wholeSnapshot is the snapshot with its pods, events, ServiceAccounts and Secrets
// read again from the API server whole, as Gather kept them before it stripped them.
func wholeSnapshot(t *testing.T, cs kubernetes.Interface, s *doctor.Snapshot, scope doctor.Scope) *doctor.Snapshot {
	t.Helper()
	ctx := context.Background()
	whole := *s
	pods, err := cs.CoreV1().Pods(scope.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whole.Pods = nil
	for _, p := range pods.Items {
		if len(scope.Pods) == 0 || strings.Contains(","+strings.Join(scope.Pods, ",")+",", ","+p.Name+",") {
			whole.Pods = append(whole.Pods, p)
		}
	}
	if len(whole.Pods) != len(s.Pods) {
		t.Fatalf("gathered %d pods, the API server has %d", len(s.Pods), len(whole.Pods))
	}
	events, err := cs.CoreV1().Events(scope.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"})
	if err != nil {
		t.Fatal(err)
	}
	whole.Events = map[string][]corev1.Event{}
	for _, e := range events.Items {
		whole.Events[string(e.InvolvedObject.UID)] = append(whole.Events[string(e.InvolvedObject.UID)], e)
	}
	whole.ServiceAccounts = map[string]*corev1.ServiceAccount{}
	for k := range s.ServiceAccounts {
		ns, name, _ := strings.Cut(k, "/")
		sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		whole.ServiceAccounts[k] = sa
	}
	whole.Secrets = map[string]*corev1.Secret{}
	for k := range s.Secrets {
		ns, name, _ := strings.Cut(k, "/")
		sec, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		whole.Secrets[k] = sec
	}
	return &whole
}

// seedStripCases makes, in namespace ns, pods that wait for their images in every way
// doctor explains, and running pods whose findings come from the node-side checks and
// the registry, each with what a real pod carries besides: managed fields, kubectl's
// last-applied copy, environment, conditions.
func seedStripCases(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	must(cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}))
	secret := func(name string, typ corev1.SecretType, data []byte) {
		t.Helper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Secret","data":"` + string(data) + `"}`}},
			Type: typ, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
		must(cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}))
	}
	cfg := func(user string) []byte {
		data, err := dockercfg.Marshal(dockercfg.Server{Key: "reg.example.com", Credential: dockercfg.Credential{Username: user, Password: "pw"}})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	secret("alice", corev1.SecretTypeDockerConfigJson, cfg("alice"))
	secret("bob", corev1.SecretTypeDockerConfigJson, cfg("bob"))
	secret("opaque", corev1.SecretTypeOpaque, cfg("bob"))
	secret("malformed", corev1.SecretTypeDockerConfigJson, []byte(`{"auths":{"reg.example.com":{"auth":"bm9jb2xvbg=="}}}`))

	const image, private = "reg.example.com/team/app:1", "private.example.com/team/tool:1"
	unauthorized := func(image string) string {
		return `failed to pull and unpack image "` + image + `": failed to resolve reference "` + image + `": pulling from host ` + strings.Split(image, "/")[0] + ` failed with status code [manifests v1]: 401 Unauthorized`
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	backoff := func(image string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "` + image + `": ErrImagePull: ` + unauthorized(image)}}
	}
	type event struct{ reason, message string }
	pod := func(name, node, image string, state corev1.ContainerState, secrets []string, events ...event) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name},
				Annotations: map[string]string{"team": "payments", "kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Pod","metadata":{"name":"` + name + `"}}`}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: image, Env: []corev1.EnvVar{{Name: "MODE", Value: "prod"}}}}},
		}
		if strings.HasPrefix(name, "web-abc12-") {
			p.Labels["pod-template-hash"] = "abc12"
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc12", UID: "11111111-2222-3333-4444-555555555555", Controller: new(true)}}
		}
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		created, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: image, State: state, Ready: state.Running != nil}}}
		if state.Terminated != nil {
			created.Status.Phase = corev1.PodSucceeded
		} else if state.Waiting != nil {
			created.Status.Phase = corev1.PodPending
		}
		must(cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))
		for _, e := range events {
			must(cs.CoreV1().Events(ns).Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "."},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name, UID: created.UID},
				Reason:         e.reason, Message: e.message, Type: corev1.EventTypeWarning}, metav1.CreateOptions{}))
		}
	}
	// Waiting for their images: kept whole.
	pod("rejected", "node-2", image, backoff(image), []string{"alice"}, event{"Failed", `Failed to pull image "` + image + `": ` + unauthorized(image)})
	pod("missing", "node-2", image, backoff(image), []string{"nothere"})
	pod("wrongtype", "node-2", image, backoff(image), []string{"opaque"})
	pod("malformed", "node-2", image, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "unable to parse auth field, must be formatted as base64(username:password)"}}, []string{"malformed"})
	pod("badname", "node-2", "reg.example.com/Team/App:1", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "InvalidImageName", Message: `Failed to apply default image tag "reg.example.com/Team/App:1": couldn't parse image name`}}, nil)
	pod("nodelocal", "node-2", private, backoff(private), nil, event{"Failed", `Failed to pull image "` + private + `": ` + unauthorized(private)})
	pod("sandbox", "node-2", image, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}, []string{"bob"},
		event{"FailedCreatePodSandBox", `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox image "registry.k8s.io/pause:3.10": failed to pull image "registry.k8s.io/pause:3.10": 401 Unauthorized`})
	// Running or done: stripped to what the checks read.
	pod("runs-private", "node-1", private, running, nil, event{"Pulled", `Successfully pulled image "` + private + `"`})
	pod("web-abc12-run1", "node-1", "other.example.com/team/web:1", running, []string{"bob"}, event{"Started", "Started container app"})
	pod("web-abc12-run2", "node-3", "other.example.com/team/web:1", running, []string{"bob"})
	pod("rejected-runner", "node-3", image, running, []string{"alice"})
	pod("healthy", "node-3", image, running, []string{"bob"})
	pod("done", "node-3", image, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}, []string{"bob"})
}
