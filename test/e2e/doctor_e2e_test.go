//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

// doctorScenario is one cause of a failed pull, made for real on the cluster.
type doctorScenario struct {
	ns      string
	image   func() string
	setup   func(ctx context.Context, ns, image string) error
	waitFor cluster.PodCondition
	want    string // finding code; "" for a healthy pod that must get no error
}

type doctorReport struct {
	Findings []struct {
		Code, Severity, Namespace, Pod, Message, Evidence string
		Fix                                               []string
	}
	Summary struct{ Errors, PodsWithErrors int }
}

// TestDoctor makes every cause the kubelet and a registry can show, waits until the
// kubelet reports each, and checks that doctor names the right code for each and
// nothing false for the healthy pod; then applies two printed fixes.
func TestDoctor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cs, regs := local.Client, local.Registries
	img, err := images.Pause(ctx, "doctor")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*registry.Registry{regs.Basic, regs.Token, regs.TLS} {
		if _, err := r.Push(ctx, "team/doc:v1", img); err != nil {
			t.Fatal(err)
		}
	}
	alice, alicePW := registry.UserAlice, regs.Passwords[registry.UserAlice]
	basic := func() string { return regs.Basic.Ref("team/doc:v1") }
	secret := func(host, user, pass string) func(ctx context.Context, ns, image string) error {
		return func(ctx context.Context, ns, image string) error {
			if err := workload.PullSecret(ctx, cs, ns, "regcred", host, user, pass); err != nil {
				return err
			}
			return workload.Deployment(ctx, cs, ns, "app", image, "regcred")
		}
	}
	backoff := cluster.PodWaiting("ErrImagePull", "ImagePullBackOff")
	scenarios := []doctorScenario{
		{"doc-healthy", basic, secret(regs.Basic.Host, alice, alicePW), cluster.PodRunning, ""},
		{"doc-no-secret", basic, func(ctx context.Context, ns, image string) error {
			return workload.Deployment(ctx, cs, ns, "app", image)
		}, backoff, "NoMatchingCredential"},
		{"doc-other-namespace", basic, func(ctx context.Context, ns, image string) error {
			return workload.Deployment(ctx, cs, ns, "app", image, "regcred")
		}, backoff, "SecretNotFound"},
		{"doc-wrong-port", basic, secret("127.0.0.1", alice, alicePW), backoff, "NoMatchingCredential"},
		{"doc-wrong-password", basic, secret(regs.Basic.Host, alice, "not-the-password"), backoff, "CredentialRejected"},
		{"doc-no-access", func() string { return regs.Token.Ref("team/doc:v1") }, secret(regs.Token.Host, registry.UserBob, regs.Passwords[registry.UserBob]), backoff, "AccessDenied"},
		{"doc-missing-tag", func() string { return regs.Basic.Ref("team/doc:nope") }, secret(regs.Basic.Host, alice, alicePW), backoff, "ImageNotFound"},
		{"doc-opaque", basic, func(ctx context.Context, ns, image string) error {
			cfg, _ := dockercfg.Marshal(dockercfg.Server{Key: regs.Basic.Host, Credential: dockercfg.Credential{Username: alice, Password: alicePW}})
			if err := workload.Secret(ctx, cs, ns, "regcred", corev1.SecretTypeOpaque, map[string]string{".dockerconfigjson": string(cfg)}); err != nil {
				return err
			}
			return workload.Deployment(ctx, cs, ns, "app", image, "regcred")
		}, backoff, "SecretWrongType"},
		{"doc-malformed", basic, func(ctx context.Context, ns, image string) error {
			bad := `{"auths":{"` + regs.Basic.Host + `":{"auth":"bm9jb2xvbg=="}}}` // "nocolon"
			if err := workload.Secret(ctx, cs, ns, "regcred", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": bad}); err != nil {
				return err
			}
			return workload.Deployment(ctx, cs, ns, "app", image, "regcred")
		}, cluster.PodStuck, "SecretMalformed"},
		{"doc-sa-late", basic, func(ctx context.Context, ns, image string) error {
			return workload.Deployment(ctx, cs, ns, "app", image)
		}, backoff, "ServiceAccountSecretsNotApplied"},
		// Admission copied the ServiceAccount's list (a Secret for another registry)
		// into a pod whose template sets none: a restart, not a template edit, brings
		// the Secret added since.
		{"doc-sa-copied", basic, func(ctx context.Context, ns, image string) error {
			if err := workload.PullSecret(ctx, cs, ns, "other", "other.registry.test", alice, alicePW); err != nil {
				return err
			}
			if err := workload.AttachToServiceAccount(ctx, cs, ns, "default", "other"); err != nil {
				return err
			}
			return workload.Deployment(ctx, cs, ns, "app", image)
		}, backoff, "ServiceAccountSecretsNotApplied"},
		// The template sets its own list: the Secret goes into it, next to "other".
		{"doc-own-list", basic, func(ctx context.Context, ns, image string) error {
			if err := workload.PullSecret(ctx, cs, ns, "other", "other.registry.test", alice, alicePW); err != nil {
				return err
			}
			return workload.Deployment(ctx, cs, ns, "app", image, "other")
		}, backoff, "ServiceAccountSecretsNotApplied"},
		{"doc-never", func() string { return regs.Basic.Ref("team/never:v1") }, func(ctx context.Context, ns, image string) error {
			return workload.DeploymentWith(ctx, cs, ns, "app", image, func(s *corev1.PodSpec) { s.Containers[0].ImagePullPolicy = corev1.PullNever })
		}, cluster.PodWaiting("ErrImageNeverPull"), "ImageNeverPull"},
		{"doc-unreachable", func() string { return "127.0.0.1:1/team/doc:v1" }, func(ctx context.Context, ns, image string) error {
			return workload.Deployment(ctx, cs, ns, "app", image)
		}, backoff, "RegistryUnreachable"},
		{"doc-untrusted-tls", func() string { return regs.TLS.Ref("team/doc:v1") }, func(ctx context.Context, ns, image string) error {
			return workload.Deployment(ctx, cs, ns, "app", image)
		}, backoff, "RegistryTLSError"},
	}
	for _, s := range scenarios {
		if err := workload.Namespace(ctx, cs, s.ns); err != nil {
			t.Fatal(err)
		}
		if err := s.setup(ctx, s.ns, s.image()); err != nil {
			t.Fatalf("%s: %v", s.ns, err)
		}
	}
	for _, s := range scenarios {
		if _, err := cluster.WaitForPodSelected(ctx, cs, s.ns, "app=app", s.waitFor); err != nil {
			t.Fatalf("%s: %v", s.ns, err)
		}
	}
	// The ServiceAccounts get the Secret only now, after their pods exist.
	for _, ns := range []string{"doc-sa-late", "doc-sa-copied", "doc-own-list"} {
		if err := workload.PullSecret(ctx, cs, ns, "regcred", regs.Basic.Host, alice, alicePW); err != nil {
			t.Fatal(err)
		}
		if err := workload.AttachToServiceAccount(ctx, cs, ns, "default", "regcred"); err != nil {
			t.Fatal(err)
		}
	}

	out, errOut, code := regcred(t, "", "doctor", "-A", "-o", "json")
	if code != 1 {
		t.Fatalf("doctor -A: exit %d, want 1 (errors found): %s", code, errOut)
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, out)
	}
	codes := map[string][]string{}
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			codes[f.Namespace] = append(codes[f.Namespace], f.Code)
		}
	}
	for _, s := range scenarios {
		got := codes[s.ns]
		switch {
		case s.want == "" && len(got) > 0:
			t.Errorf("%s: healthy pod got error findings %v", s.ns, got)
		case s.want != "" && (len(got) != 1 || got[0] != s.want):
			t.Errorf("%s: error findings %v, want exactly [%s]", s.ns, got, s.want)
		}
	}
	if t.Failed() {
		t.Logf("doctor output:\n%s", out)
	}
	for _, pw := range regs.Passwords {
		if strings.Contains(out, pw) {
			t.Error("doctor output carries a registry password")
		}
	}

	// The printed fixes that are commands, applied as printed (USER and $PASSWORD
	// filled in) and nothing else: no pod is deleted unless a fix says so, so a fix
	// that forgets a restart leaves its pod failing. Each makes its pod Running, after
	// the kubelet's next retry for fixes that only change a Secret. The others need the
	// registry or the node changed, which doctor says in words.
	fixed := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity != "error" || fixed[f.Namespace] {
			continue
		}
		applied := false
		for _, line := range f.Fix {
			if applyFix(ctx, t, line, alicePW) {
				applied = true
			}
		}
		fixed[f.Namespace] = applied
	}
	for _, ns := range []string{"doc-no-secret", "doc-other-namespace", "doc-wrong-port", "doc-wrong-password", "doc-malformed", "doc-sa-late", "doc-sa-copied", "doc-own-list"} {
		if !fixed[ns] {
			t.Errorf("%s: no printed fix could be applied", ns)
			continue
		}
		// A fix that changes only a Secret works at the kubelet's next retry, up to
		// five minutes of back-off away; each wait gives up after three.
		var err error
		for range 2 {
			if _, err = cluster.WaitForPodSelected(ctx, cs, ns, "app=app", cluster.PodRunning); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s after the printed fix: %v", ns, err)
		}
	}
	own, err := cs.AppsV1().Deployments("doc-own-list").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := own.Spec.Template.Spec.ImagePullSecrets; len(got) != 2 || got[0].Name != "other" || got[1].Name != "regcred" {
		t.Errorf("doc-own-list: the template's list after the printed fix is %v, want [other regcred]", got)
	}
	out, _, code = regcred(t, "", "doctor", "-n", "doc-wrong-password")
	if code != 0 {
		t.Errorf("doctor after the fix: exit %d\n%s", code, out)
	}

	// A running pod whose credential stops working, then whose Secret goes: warned
	// about before its next pull fails, exit 0 since nothing fails yet.
	if _, errOut, code := regcred(t, "wrong-now", "create", "regcred", "-n", "doc-healthy", "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--overwrite", "--no-verify"); code != 0 {
		t.Fatalf("break the healthy Secret: %s", errOut)
	}
	out, _, code = regcred(t, "", "doctor", "-n", "doc-healthy")
	if code != 0 || !strings.Contains(out, "! warning  CredentialRejected") || !strings.Contains(out, "runs now, but its credentials no longer work") {
		t.Errorf("doctor on a running pod with a rejected credential: exit %d\n%s", code, out)
	}
	if err := cs.CoreV1().Secrets("doc-healthy").Delete(ctx, "regcred", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out, _, code = regcred(t, "", "doctor", "-n", "doc-healthy")
	if code != 0 || !strings.Contains(out, "! warning  SecretNotFound") {
		t.Errorf("doctor on a running pod whose Secret is gone: exit %d\n%s", code, out)
	}
}

// applyFix runs one printed fix line if it is a command the test can run as a user
// would paste it: kubectl regcred ..., kubectl rollout restart, kubectl delete pod (of
// a pod whose controller makes it again), or kubectl patch --type json. It reports
// whether it ran one.
func applyFix(ctx context.Context, t *testing.T, line, password string) bool {
	t.Helper()
	line, comment, _ := strings.Cut(line, "   #")
	stdin := ""
	if rest, ok := strings.CutPrefix(line, `printf '%s' "$PASSWORD" | `); ok {
		line, stdin = rest, password
	}
	fields := strings.Fields(strings.ReplaceAll(line, "--username USER", "--username "+registry.UserAlice))
	switch {
	case len(fields) > 2 && fields[0] == "kubectl" && fields[1] == "regcred" && fields[2] != "show" && fields[2] != "verify" && fields[2] != "status":
		if strings.Contains(line, "-pull") {
			return false // a new Secret the template must be changed to reference
		}
		if _, errOut, code := regcred(t, stdin, fields[2:]...); code != 0 {
			t.Errorf("printed fix %q: exit %d: %s", line, code, errOut)
		}
	case len(fields) == 6 && fields[1] == "rollout" && fields[2] == "restart":
		_, name, _ := strings.Cut(fields[3], "/")
		if err := workload.RolloutRestart(ctx, local.Client, fields[5], name); err != nil {
			t.Errorf("printed fix %q: %v", line, err)
		}
	case len(fields) == 6 && fields[1] == "delete" && fields[2] == "pod" && !strings.Contains(comment, "create it again"):
		if err := local.Client.CoreV1().Pods(fields[5]).Delete(ctx, fields[3], metav1.DeleteOptions{}); err != nil {
			t.Errorf("printed fix %q: %v", line, err)
		}
	case len(fields) > 8 && fields[1] == "patch" && fields[2] == "deployment" && fields[4] == "-n" && fields[6] == "--type" && fields[7] == "json":
		_, patch, _ := strings.Cut(line, " -p '")
		patch = strings.TrimSuffix(strings.TrimSpace(patch), "'")
		if _, err := local.Client.AppsV1().Deployments(fields[5]).Patch(ctx, fields[3], types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Errorf("printed fix %q: %v", line, err)
		}
	default:
		return false
	}
	t.Logf("applied the printed fix: %s", line)
	return true
}
