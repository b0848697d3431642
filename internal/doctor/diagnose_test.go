package doctor

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/internal/dockercfg"
)

func pullSecret(ns, name string, typ corev1.SecretType, key, user, pass string) *corev1.Secret {
	data, _ := dockercfg.Marshal(dockercfg.Server{Key: key, Credential: dockercfg.Credential{Username: user, Password: pass}})
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: typ, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
}

func podWith(name, image string, waiting *corev1.ContainerStateWaiting, secrets ...string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: "uid-" + "name"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
	for _, s := range secrets {
		p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	st := corev1.ContainerStatus{Name: "app"}
	if waiting != nil {
		st.State.Waiting = waiting
	} else {
		st.State.Running = &corev1.ContainerStateRunning{}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	return p
}

func backoff(msg string) *corev1.ContainerStateWaiting {
	return &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: msg}
}

func snapshot(pods []corev1.Pod, secrets ...*corev1.Secret) *Snapshot {
	s := &Snapshot{Pods: pods, ServiceAccounts: map[string]*corev1.ServiceAccount{}, Secrets: map[string]*corev1.Secret{}, Events: map[string][]corev1.Event{}, Elsewhere: map[string][]string{}}
	for _, sec := range secrets {
		s.Secrets[key(sec.Namespace, sec.Name)] = sec
	}
	return s
}

func codes(r Report) string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, string(f.Severity)+":"+string(f.Code))
	}
	return strings.Join(out, ",")
}

// TestDiagnoseOffline runs the checks over snapshots built by hand (no API server is
// needed for pure functions over gathered state; the e2e suite shows the real kubelet).
func TestDiagnoseOffline(t *testing.T) {
	const unauthorized = `Back-off pulling image "reg.example.com/team/app:1": failed to resolve reference "reg.example.com/team/app:1": pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`
	malformed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bad"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"other.example.com":{"auth":"bm9jb2xvbg=="}}}`)}}
	opaqueOther := pullSecret("ns", "opaque", corev1.SecretTypeOpaque, "other.example.com", "u", "p")
	badBase64 := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bad"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"reg.example.com":{"auth":"dXNlcjpw*XNz"}}}`)}}
	wrongShape := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bad"}, Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{"reg.example.com":{"username":"u","password":12}}`)}}
	pending := podWith("p", "reg.example.com/team/app:1", nil, "bad")
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending}
	tests := []struct {
		name string
		snap *Snapshot
		sa   *corev1.ServiceAccount
		want string
	}{
		{"running pod with a malformed Secret is a warning", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", nil, "bad")}, malformed), nil, "warning:SecretMalformed"},
		{"failing pod with a malformed Secret is an error", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", &corev1.ContainerStateWaiting{Reason: "unable to parse auth field, must be formatted as base64(username:password)"}, "bad")}, malformed), nil, "error:SecretMalformed"},
		// The kubelet puts its raw parse error in the waiting reason, whatever it is.
		{"pod waiting on a Secret whose auth is not base64 is an error", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", &corev1.ContainerStateWaiting{Reason: "illegal base64 data at input byte 8"}, "bad")}, badBase64), nil, "error:SecretMalformed"},
		{"pod waiting on a dockercfg Secret of the wrong shape is an error", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", &corev1.ContainerStateWaiting{Reason: "json: cannot unmarshal number into Go struct field dockerConfigEntryWithAuth.password of type string"}, "bad")}, wrongShape), nil, "error:SecretMalformed"},
		{"pod still creating with a malformed Secret is an error", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}, "bad")}, badBase64), nil, "error:SecretMalformed"},
		{"pending pod without statuses and a malformed Secret is an error", snapshot([]corev1.Pod{pending}, wrongShape), nil, "error:SecretMalformed"},
		{"running pod with a Secret of the wrong shape is a warning", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", nil, "bad")}, wrongShape), nil, "warning:SecretMalformed"},
		{"a container error that is not a pull", snapshot([]corev1.Pod{podWith("p", "nginx", &corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: "permission denied: unknown"})}), nil, ""},
		{"no key for the registry", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", backoff(unauthorized))}), nil, "error:NoMatchingCredential"},
		{"an Opaque Secret for another registry does not hide the cause", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", backoff(unauthorized), "opaque")}, opaqueOther), nil, "warning:SecretWrongType,error:NoMatchingCredential"},
		{"a ServiceAccount Secret for another registry is not blamed", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", backoff(unauthorized))}, pullSecret("ns", "other", corev1.SecretTypeDockerConfigJson, "other.example.com", "u", "p")),
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "other"}}}, "error:NoMatchingCredential"},
		{"a ServiceAccount Secret that would serve is the cause", snapshot([]corev1.Pod{podWith("p", "reg.example.com/team/app:1", backoff(unauthorized))}, pullSecret("ns", "mine", corev1.SecretTypeDockerConfigJson, "reg.example.com", "u", "p")),
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "mine"}}}, "error:ServiceAccountSecretsNotApplied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sa != nil {
				tt.snap.ServiceAccounts[key(tt.sa.Namespace, tt.sa.Name)] = tt.sa
			}
			got := codes(Diagnose(context.Background(), tt.snap, Options{}))
			if got != tt.want {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEphemeralContainerIsAWarning(t *testing.T) {
	p := podWith("p", "nginx", nil)
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "reg.example.com/tools:1"}}}
	p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "debug", State: corev1.ContainerState{Waiting: backoff(`failed to resolve reference "reg.example.com/tools:1": pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`)}}}
	if got := codes(Diagnose(context.Background(), snapshot([]corev1.Pod{p}), Options{})); got != "warning:NoMatchingCredential" {
		t.Errorf("findings = %q, want a warning for the ephemeral container only", got)
	}
}

func TestEvidence(t *testing.T) {
	p := podWith("p", "reg.example.com/team/app:1", backoff(""))
	s := snapshot([]corev1.Pod{p})
	s.Events[podKey(&p)] = []corev1.Event{
		{Reason: "Failed", Message: `Failed to pull image "reg.example.com/team/app:1-debug": not found`},
		{Reason: "Failed", Message: `Failed to pull image "reg.example.com/team/app:1": 401 Unauthorized fetching https://blob.example.com/x?X-Amz-Signature=SECRETSIG&X-Amz-Credential=AKIA`},
	}
	r := Diagnose(context.Background(), s, Options{})
	if len(r.Findings) != 1 || r.Findings[0].Code != NoMatchingCredential {
		t.Fatalf("findings = %q, want NoMatchingCredential from this image's event, not the -debug image's", codes(r))
	}
	if ev := r.Findings[0].Evidence; strings.Contains(ev, "SECRETSIG") || !strings.Contains(ev, "?REDACTED") {
		t.Errorf("evidence = %q, want the signed URL's query removed", ev)
	}
}
