package doctor

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/pullsecret"
	"github.com/regcred/regcred/internal/verify"
)

// regcredCopy makes the copy regcred-controller would write in namespace ns of a
// source Secret src/pull, for ClusterPullSecret team.
func regcredCopy(t *testing.T, ns string, source *corev1.Secret) *corev1.Secret {
	t.Helper()
	c, err := pullsecret.ContentFrom(source)
	if err != nil {
		t.Fatal(err)
	}
	return pullsecret.Copy(teamCPS(), ns, c)
}

func teamCPS() *v1alpha1.ClusterPullSecret {
	return &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "team", UID: "uid-team"},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source:            v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: "src", Name: "pull"}},
			SecretName:        "regcred",
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
		},
	}
}

// TestFixesOfCopiesChangeTheSource: for every finding about a Secret regcred copies,
// the fix changes the source Secret and never the copy.
func TestFixesOfCopiesChangeTheSource(t *testing.T) {
	const image = "reg.example.com/team/app:1"
	refused := backoff(`failed to resolve reference "` + image + `": pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`)
	source := pullSecret("src", "pull", corev1.SecretTypeDockerConfigJson, "reg.example.com", "alice", "wrong")
	twoEntries := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"reg.example.com":{"auth":"` + dockercfg.EncodeAuth("alice", "wrong") + `"},"other.example.com":{"auth":"` + dockercfg.EncodeAuth("bob", "x") + `"}}}`)}}
	nearMiss := pullSecret("src", "pull", corev1.SecretTypeDockerConfigJson, "reg.example.com:5000", "alice", "pw")
	empty := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"reg.example.com":{"auth":""}}}`)}}
	tampered := func(s *corev1.Secret) *corev1.Secret {
		s.Data[corev1.DockerConfigJsonKey] = []byte(`{"auths":{"reg.example.com":{"auth":"bm9jb2xvbg=="}}}`)
		return s
	}
	opaque := func(s *corev1.Secret) *corev1.Secret {
		s.Type = corev1.SecretTypeOpaque
		return s
	}
	noAnnotation := func(s *corev1.Secret) *corev1.Secret {
		delete(s.Annotations, v1alpha1.AnnotationSource)
		return s
	}
	rejected := func(_ context.Context, _ string, cred *dockercfg.Credential) (verify.Result, error) {
		if cred == nil {
			return verify.Result{Outcome: verify.AuthRequired, Detail: "anonymous"}, nil
		}
		return verify.Result{Outcome: verify.CredentialRejected, Detail: "401"}, nil
	}
	denied := func(_ context.Context, _ string, cred *dockercfg.Credential) (verify.Result, error) {
		return verify.Result{Outcome: verify.AccessDenied, Detail: "insufficient_scope"}, nil
	}
	saWith := func(refs ...string) *corev1.ServiceAccount {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}}
		for _, r := range refs {
			sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: r})
		}
		return sa
	}
	tests := []struct {
		name    string
		pod     corev1.Pod
		secrets []*corev1.Secret
		sa      *corev1.ServiceAccount
		cps     bool // the ClusterPullSecret is in the snapshot
		plugin  bool // ... with a credential provider plugin as its source
		probe   Probe
		code    Code
		want    []string
	}{
		{name: "rejected password", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{regcredCopy(t, "ns", source)}, probe: rejected, code: CredentialRejected,
			want: []string{`printf '%s' "$PASSWORD" | kubectl regcred create pull -n src --server reg.example.com --username alice --password-stdin --overwrite   # ns/regcred is a copy: regcred-controller copies its source to every namespace ClusterPullSecret team targets`}},
		{name: "rejected password, several entries", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{regcredCopy(t, "ns", twoEntries)}, probe: rejected, code: CredentialRejected,
			want: []string{"kubectl regcred show pull -n src   # it has 2 entries: --overwrite keeps only the one given", "kubectl regcred create pull -n src --server reg.example.com --username alice"}},
		{name: "key with a port the image lacks", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{regcredCopy(t, "ns", nearMiss)}, code: NoMatchingCredential,
			want: []string{"kubectl regcred create pull -n src --server reg.example.com --username USER --password-stdin --overwrite   # ns/regcred is a copy"}},
		{name: "empty credential", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{regcredCopy(t, "ns", empty)}, code: EmptyCredential,
			want: []string{"kubectl regcred create pull -n src --server reg.example.com --username USER --password-stdin --overwrite"}},
		{name: "access denied", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{regcredCopy(t, "ns", source)}, probe: denied, code: AccessDenied,
			want: []string{"or use a credential that has it (in src/pull, which ClusterPullSecret team copies here: never in the copy)"}},
		{name: "copy changed by hand so that it does not parse", pod: podWith("p", image, &corev1.ContainerStateWaiting{Reason: "unable to parse auth field, must be formatted as base64(username:password)"}, "regcred"),
			secrets: []*corev1.Secret{tampered(regcredCopy(t, "ns", source))}, code: SecretMalformed,
			want: []string{"kubectl regcred status team   # regcred-controller rewrites ns/regcred from src/pull; this says why it has not", "kubectl regcred show pull -n src", "kubectl regcred create pull -n src --server reg.example.com --username USER"}},
		{name: "copy changed by hand to another type", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{opaque(regcredCopy(t, "ns", source))}, code: SecretWrongType,
			want: []string{"kubectl regcred status team", "kubectl regcred create pull -n src --server reg.example.com --username USER"}},
		{name: "source known only from the ClusterPullSecret", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{noAnnotation(regcredCopy(t, "ns", source))}, cps: true, probe: rejected, code: CredentialRejected,
			want: []string{"kubectl regcred create pull -n src --server reg.example.com --username alice"}},
		{name: "source unknown", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{noAnnotation(regcredCopy(t, "ns", source))}, probe: rejected, code: CredentialRejected,
			want: []string{"kubectl get clusterpullsecret team -o jsonpath='{.spec.source.secretRef}'   # the source Secret to change", "kubectl regcred create SOURCE -n SOURCE_NAMESPACE --server reg.example.com --username alice"}},
		{name: "source minted by a credential provider plugin", pod: podWith("p", image, refused, "regcred"), secrets: []*corev1.Secret{noAnnotation(regcredCopy(t, "ns", source))}, cps: true, plugin: true, probe: rejected, code: CredentialRejected,
			want: []string{"kubectl describe clusterpullsecret team   # ns/regcred is a copy of the credential plugin ecr-credential-provider mints"}},
		{name: "a copy in the namespace that the pod does not get", pod: podWith("p", image, refused), secrets: []*corev1.Secret{regcredCopy(t, "ns", pullSecret("src", "pull", corev1.SecretTypeDockerConfigJson, "reg.example.com", "alice", "pw"))}, sa: saWith(), code: NoMatchingCredential,
			want: []string{"kubectl regcred attach regcred -n ns --serviceaccount default --restart   # ClusterPullSecret team keeps that copy of src/pull here; or add default to its spec.serviceAccounts"}},
		{name: "a copy the ServiceAccount got after the pod", pod: podWith("p", image, refused), secrets: []*corev1.Secret{regcredCopy(t, "ns", pullSecret("src", "pull", corev1.SecretTypeDockerConfigJson, "reg.example.com", "alice", "pw"))}, sa: saWith("regcred"), code: ServiceAccountSecretsNotApplied,
			want: []string{"ServiceAccount default has pull Secret regcred (ClusterPullSecret team's copy of src/pull), but this pod was created before it was added"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := snapshot([]corev1.Pod{tt.pod}, tt.secrets...)
			if tt.sa != nil {
				snap.ServiceAccounts[key(tt.sa.Namespace, tt.sa.Name)] = tt.sa
			}
			if tt.cps {
				cps := teamCPS()
				if tt.plugin {
					cps.Spec.Source = v1alpha1.Source{CredentialProvider: &v1alpha1.CredentialProviderSource{Name: "ecr-credential-provider", Image: image}}
				}
				snap.ClusterPullSecrets = map[string]*v1alpha1.ClusterPullSecret{"team": cps}
			}
			if tt.plugin && strings.Contains(strings.Join(Diagnose(context.Background(), snap, Options{Probe: tt.probe}).Findings[0].Fix, "\n"), "SOURCE") {
				t.Errorf("a fix names a source Secret for a minted credential")
			}
			r := Diagnose(context.Background(), snap, Options{Probe: tt.probe})
			if len(r.Findings) != 1 || r.Findings[0].Code != tt.code {
				t.Fatalf("findings = %q, want one %s", codes(r), tt.code)
			}
			f := r.Findings[0]
			text := f.Message + "\n" + strings.Join(f.Fix, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("finding lacks %q:\n%s", w, text)
				}
			}
			for _, line := range f.Fix {
				if strings.Contains(line, "create regcred -n ns") || strings.Contains(line, "create regcred-pull") {
					t.Errorf("a fix writes the copy: %q", line)
				}
			}
			if f.Secret == "regcred" && f.ClusterPullSecret != "team" {
				t.Errorf("finding about the copy has clusterPullSecret %q, want team", f.ClusterPullSecret)
			}
		})
	}
}

// TestMissingSecretThatIsACopyElsewhere: the pod's namespace lacks a Secret that other
// namespaces have as regcred copies. Copying a copy by hand would make a Secret regcred
// sees as someone else's; the fix has the ClusterPullSecret target the namespace.
func TestMissingSecretThatIsACopyElsewhere(t *testing.T) {
	const image = "reg.example.com/team/app:1"
	refused := backoff(`failed to resolve reference "` + image + `": pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`)
	cp := regcredCopy(t, "other", pullSecret("src", "pull", corev1.SecretTypeDockerConfigJson, "reg.example.com", "alice", "pw"))
	excluding := teamCPS()
	excluding.Spec.ExcludeNamespaces = []string{"n*"}
	sourceNS := teamCPS()
	sourceNS.Spec.Source.SecretRef.Namespace = "ns"
	expressions := teamCPS()
	expressions.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpExists}}}
	tests := []struct {
		name string
		cps  *v1alpha1.ClusterPullSecret
		want string
	}{
		{"selector by labels", teamCPS(), "kubectl label namespace ns team=a   # ClusterPullSecret team targets namespaces labelled so: regcred-controller then copies src/pull here and adds it to the ServiceAccounts it serves"},
		{"excluded", excluding, "kubectl edit clusterpullsecret team   # take ns out of spec.excludeNamespaces"},
		{"the source's namespace", sourceNS, "reference pull instead of regcred where the pod's imagePullSecrets come from: the manifest of Pod/p if it sets them, else ServiceAccount default"},
		{"selector by expressions", expressions, "kubectl edit clusterpullsecret team   # have its spec.namespaceSelector match namespace ns"},
		{"ClusterPullSecret unreadable", nil, "kubectl edit clusterpullsecret team   # have it target namespace ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := snapshot([]corev1.Pod{podWith("p", image, refused, "regcred")}, cp)
			snap.Elsewhere["regcred"] = []string{"other"}
			snap.ClusterPullSecrets = map[string]*v1alpha1.ClusterPullSecret{"team": tt.cps}
			r := Diagnose(context.Background(), snap, Options{})
			if len(r.Findings) != 1 || r.Findings[0].Code != SecretNotFound {
				t.Fatalf("findings = %q, want SecretNotFound", codes(r))
			}
			f := r.Findings[0]
			if want := "a Secret of that name exists in other; in other it is a copy of src/pull kept by ClusterPullSecret team, which has none in ns"; !strings.Contains(f.Message, want) {
				t.Errorf("message = %q, want it to contain %q", f.Message, want)
			}
			fix := strings.Join(f.Fix, "\n")
			if !strings.HasPrefix(fix, "kubectl regcred status team") || !strings.Contains(fix, tt.want) {
				t.Errorf("fix =\n%s\nwant kubectl regcred status team, then %q", fix, tt.want)
			}
			if strings.Contains(fix, "kubectl apply") || strings.Contains(fix, "regcred create") {
				t.Errorf("fix copies the copy by hand or makes a Secret the ClusterPullSecret would conflict with:\n%s", fix)
			}
		})
	}
}
