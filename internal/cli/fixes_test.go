package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCreateRefusesBeforeWriting(t *testing.T) {
	a := newNamespace(t, "refuse")
	pw := alicePassword()
	base := []string{"--server", regs.Basic.Host, "--username", "alice", "--password-stdin"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing namespace", []string{"create", "regcred", "--namespaces", a + ",no-such-namespace"}, "namespace no-such-namespace"},
		{"username with a colon", []string{"create", "regcred", "-n", a, "--server", regs.Basic.Host, "--username", "al:ice", "--password-stdin"}, "contains ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "--username") {
				args = append(args, base...)
			}
			_, errOut, code := runCmdIn(t, pw, args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, %q; want 2 with %q", code, errOut, tt.want)
			}
			if secretExists(t, a, "regcred") {
				t.Fatal("something was written")
			}
		})
	}

	// A kubernetes.io/dockercfg Secret cannot become dockerconfigjson: refused up front.
	createSecret(t, a, "legacy", "kubernetes.io/dockercfg", map[string]string{".dockercfg": `{"r.example.com":{"username":"u","password":"p"}}`})
	_, errOut, code := runCmdIn(t, pw, append([]string{"create", "legacy", "-n", a, "--overwrite"}, base...)...)
	if code != 2 || !strings.Contains(errOut, "type cannot change") {
		t.Errorf("overwrite of a dockercfg Secret: exit %d, %q", code, errOut)
	}
}

func TestCreateClientDryRunIsOffline(t *testing.T) {
	dead := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c, namespace: offline}}]\ncurrent-context: c\n"
	if err := os.WriteFile(dead, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCmdIn(t, "pw", "--kubeconfig", dead, "create", "regcred", "--server", "reg.example.com", "--username", "u", "--password-stdin", "--no-verify", "--dry-run=client", "--attach", "default")
	if code != 0 || !strings.Contains(out, "secret/regcred created in offline (dry run)") || !strings.Contains(out, "serviceaccount/default in offline attached (dry run)") {
		t.Errorf("client dry run with an unreachable cluster: exit %d, %q %q", code, out, errOut)
	}
}

func TestAttachAllNamespacesChecksFirst(t *testing.T) {
	a, b := newNamespace(t, "alla"), newNamespace(t, "allb")
	pullSecretFor(t, a, "shared-x")
	pullSecretFor(t, b, "shared-x")
	newServiceAccount(t, a, "builder")
	// b has no "builder": nothing may change in a either.
	_, errOut, code := runCmd(t, "attach", "shared-x", "--serviceaccount", "builder", "-A")
	if code != 2 || !strings.Contains(errOut, b+"/builder") {
		t.Fatalf("attach -A with a missing ServiceAccount: exit %d, %q", code, errOut)
	}
	if got := saSecrets(t, a, "builder"); got != "" {
		t.Errorf("serviceaccount %s/builder changed before the check of %s failed: %s", a, b, got)
	}
	// detach -A finds references even after the Secret is gone.
	if _, errOut, code := runCmd(t, "attach", "shared-x", "--serviceaccount", "default", "-A"); code != 0 {
		t.Fatalf("attach -A: %q", errOut)
	}
	for _, ns := range []string{a, b} {
		if err := kube.CoreV1().Secrets(ns).Delete(context.Background(), "shared-x", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := runCmd(t, "detach", "shared-x", "--serviceaccount", "default", "-A"); code != 0 {
		t.Fatalf("detach -A: %q", errOut)
	}
	for _, ns := range []string{a, b} {
		if got := saSecrets(t, ns, "default"); got != "" {
			t.Errorf("detach -A left %s/default with %s", ns, got)
		}
	}
}

func TestAttachWarnsAboutUnusableSecret(t *testing.T) {
	ns := newNamespace(t, "unusable")
	createSecret(t, ns, "opaque", "Opaque", map[string]string{".dockerconfigjson": `{"auths":{}}`})
	_, errOut, code := runCmd(t, "attach", "opaque", "--serviceaccount", "default", "-n", ns)
	if code != 0 || !strings.Contains(errOut, "pods will get nothing from it") {
		t.Errorf("attach of an Opaque Secret: exit %d, %q; want a warning", code, errOut)
	}
}

func TestShowSkippedSecretIsNotFatal(t *testing.T) {
	ns := newNamespace(t, "skipped")
	createSecret(t, ns, "opaque-bad", "Opaque", map[string]string{".dockerconfigjson": `{"auths":{"r":{"auth":"!!"}}}`})
	out, _, _ := runCmd(t, "show", "opaque-bad", "-n", ns)
	if strings.Contains(out, "fails every pull") || !strings.Contains(out, `type "Opaque"`) {
		t.Errorf("show of a skipped Secret:\n%s", out)
	}
}
