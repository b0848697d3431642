package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/registry"
)

func TestCreate(t *testing.T) {
	ns := newNamespace(t, "create")
	host := regs.Basic.Host
	out, errOut, code := runCmdIn(t, alicePassword()+"\n", "create", "regcred", "-n", ns, "--server", host, "--username", "alice", "--password-stdin")
	if code != 0 {
		t.Fatalf("create: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "secret/regcred created in "+ns) || !strings.Contains(errOut, "verified: ") {
		t.Errorf("create output = %q / %q", out, errOut)
	}
	noPassword(t, out, errOut)
	cfg := secretConfig(t, ns, "regcred")
	want := dockercfg.Credential{Username: "alice", Password: alicePassword()}
	if len(cfg.Entries) != 1 || cfg.Entries[0].Key != host || cfg.Entries[0].Credential != want || !cfg.Entries[0].HasAuth {
		t.Errorf("secret entries = %+v, want one auth entry for %s with alice's credential", cfg.Entries, host)
	}
}

func TestCreateRefusesRejectedCredential(t *testing.T) {
	ns := newNamespace(t, "create-bad")
	for _, reg := range []*registry.Registry{regs.Basic, regs.Token} {
		_, errOut, code := runCmdIn(t, "wrong-password\n", "create", "regcred", "-n", ns, "--server", reg.Host, "--username", "alice", "--password-stdin")
		if code != 1 || !strings.Contains(errOut, "CredentialRejected") || !strings.Contains(errOut, "--no-verify") {
			t.Errorf("create with a wrong password on %s registry: exit %d, stderr %q; want exit 1 naming CredentialRejected", reg.Auth, code, errOut)
		}
		if secretExists(t, ns, "regcred") {
			t.Fatalf("a rejected credential was saved")
		}
	}
	// --no-verify saves it anyway.
	if _, errOut, code := runCmdIn(t, "wrong-password\n", "create", "regcred", "-n", ns, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--no-verify"); code != 0 {
		t.Fatalf("create --no-verify: exit %d, %q", code, errOut)
	}
}

func TestCreateSeveralNamespacesAndAttach(t *testing.T) {
	a, b := newNamespace(t, "multi"), newNamespace(t, "multi")
	newServiceAccount(t, a, "builder", "existing")
	newServiceAccount(t, b, "builder")
	_, errOut, code := runCmdIn(t, alicePassword(), "create", "regcred", "--namespaces", a+","+b, "--server", regs.Basic.Host,
		"--username", "alice", "--password-stdin", "--attach", "default,builder")
	if code != 0 {
		t.Fatalf("create: exit %d, %q", code, errOut)
	}
	for _, ns := range []string{a, b} {
		if !secretExists(t, ns, "regcred") {
			t.Errorf("no secret in %s", ns)
		}
		sa, err := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), "builder", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		names := refNames(sa.ImagePullSecrets)
		want := "regcred"
		if ns == a {
			want = "existing,regcred"
		}
		if names != want {
			t.Errorf("serviceaccount %s/builder imagePullSecrets = %s, want %s (existing entries kept)", ns, names, want)
		}
	}
}

func TestCreateAllNamespaces(t *testing.T) {
	_, errOut, code := runCmdIn(t, alicePassword(), "create", "everywhere", "-A", "--server", regs.Basic.Host, "--username", "alice", "--password-stdin")
	if code != 0 {
		t.Fatalf("create -A: exit %d, %q", code, errOut)
	}
	list, err := kube.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list.Items {
		if !secretExists(t, n.Name, "everywhere") {
			t.Errorf("create -A left out namespace %s", n.Name)
		}
	}
}

func TestCreateExisting(t *testing.T) {
	ns := newNamespace(t, "existing")
	args := []string{"create", "regcred", "-n", ns, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin"}
	if _, errOut, code := runCmdIn(t, alicePassword(), args...); code != 0 {
		t.Fatalf("first create: exit %d, %q", code, errOut)
	}
	_, errOut, code := runCmdIn(t, alicePassword(), args...)
	if code != 2 || !strings.Contains(errOut, "already exists: add --overwrite") {
		t.Errorf("second create: exit %d, %q; want exit 2 asking for --overwrite", code, errOut)
	}
	out, errOut, code := runCmdIn(t, alicePassword(), append(args, "--overwrite")...)
	if code != 0 || !strings.Contains(out, "configured") {
		t.Errorf("create --overwrite: exit %d, %q %q", code, out, errOut)
	}

	// A Secret of another type is never touched, --overwrite or not.
	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: ns}, Data: map[string][]byte{"k": []byte("v")}}
	if _, err := kube.CoreV1().Secrets(ns).Create(context.Background(), opaque, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCmdIn(t, alicePassword(), "create", "mine", "-n", ns, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--overwrite")
	if code != 2 || !strings.Contains(errOut, `type "Opaque"`) {
		t.Errorf("create over an Opaque Secret: exit %d, %q", code, errOut)
	}
	s, _ := kube.CoreV1().Secrets(ns).Get(context.Background(), "mine", metav1.GetOptions{})
	if string(s.Data["k"]) != "v" || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("the Opaque Secret was changed: %v", s)
	}
}

func TestCreateAllOrNothing(t *testing.T) {
	a, b := newNamespace(t, "aon"), newNamespace(t, "aon")
	// b already has the Secret: nothing may be written to a either.
	if _, errOut, code := runCmdIn(t, alicePassword(), "create", "regcred", "-n", b, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("setup: %q", errOut)
	}
	_, _, code := runCmdIn(t, alicePassword(), "create", "regcred", "--namespaces", a+","+b, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin")
	if code != 2 || secretExists(t, a, "regcred") {
		t.Errorf("exit %d, secret in %s: %v; want exit 2 and nothing written", code, a, secretExists(t, a, "regcred"))
	}
	// A missing ServiceAccount to attach to: nothing written either.
	_, errOut, code := runCmdIn(t, alicePassword(), "create", "other", "-n", a, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--attach", "ghost")
	if code != 2 || !strings.Contains(errOut, "ghost") || secretExists(t, a, "other") {
		t.Errorf("attach to a missing ServiceAccount: exit %d, %q", code, errOut)
	}
}

func TestCreateDryRun(t *testing.T) {
	ns := newNamespace(t, "dry")
	out, errOut, code := runCmdIn(t, alicePassword(), "create", "regcred", "-n", ns, "--server", "docker.io", "--username", "alice", "--password-stdin", "--dry-run=client", "-o", "yaml", "--no-verify")
	if code != 0 {
		t.Fatalf("dry run: exit %d, %q", code, errOut)
	}
	var s corev1.Secret
	if err := yaml.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("dry run output is not a Secret manifest: %v\n%s", err, out)
	}
	cfg, err := dockercfg.FromSecret(&s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != "Secret" || s.Namespace != ns || cfg.Entries[0].Key != dockercfg.DockerHubKey {
		t.Errorf("dry-run manifest = %s/%s key %s, want a Secret in %s under %s", s.Kind, s.Namespace, cfg.Entries[0].Key, ns, dockercfg.DockerHubKey)
	}
	if secretExists(t, ns, "regcred") {
		t.Error("--dry-run=client wrote the Secret")
	}
	if _, errOut, code := runCmdIn(t, alicePassword(), "create", "regcred", "-n", ns, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--dry-run=server", "--attach", "default"); code != 0 {
		t.Fatalf("server dry run: exit %d, %q", code, errOut)
	}
	if secretExists(t, ns, "regcred") {
		t.Error("--dry-run=server wrote the Secret")
	}
	sa, _ := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
	if len(sa.ImagePullSecrets) != 0 {
		t.Errorf("--dry-run=server attached: %v", sa.ImagePullSecrets)
	}
}

func TestCreateFromDockerConfig(t *testing.T) {
	ns := newNamespace(t, "fromcfg")
	dir := t.TempDir()
	// A helper program that speaks the credential helper protocol, on PATH.
	helper := "#!/bin/sh\nread url\ncase \"$url\" in\n  " + regs.Token.Host + ") printf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"" + alicePassword() + "\"}' \"$url\" ;;\n  tokenreg.example.com) echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"t\"}' ;;\n  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-fake"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	config := `{"auths":{
  "` + regs.Basic.Host + `":{"auth":"` + dockercfg.EncodeAuth("alice", alicePassword()) + `"},
  "other.example.com":{"auth":"` + dockercfg.EncodeAuth("someone", "elsewhere-password") + `"},
  "idtoken.example.com":{"identitytoken":"abc"},
  "` + regs.Token.Host + `":{}
},"credHelpers":{"` + regs.Token.Host + `":"fake","tokenreg.example.com":"fake"}}`
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	_, errOut, code := runCmd(t, "create", "picked", "-n", ns, "--from-docker-config="+path, "--registry", regs.Basic.Host, "--registry", regs.Token.Host)
	if code != 0 {
		t.Fatalf("create --from-docker-config: exit %d, %q", code, errOut)
	}
	cfg := secretConfig(t, ns, "picked")
	if len(cfg.Entries) != 2 || cfg.Entries[0].Username != "alice" || cfg.Entries[1].Username != "alice" {
		t.Errorf("entries = %v, want only the two named registries, both alice (one from the helper)", cfg.Entries)
	}
	for _, e := range cfg.Entries {
		if e.Key == "other.example.com" {
			t.Error("a registry that was not named was copied")
		}
	}
	// The path may also follow the flag as the next argument.
	if _, errOut, code := runCmd(t, "create", "picked2", "-n", ns, "--from-docker-config", path, "--registry", regs.Basic.Host); code != 0 {
		t.Errorf("--from-docker-config PATH: exit %d, %q", code, errOut)
	}

	refusals := []struct{ registry, want string }{
		{"idtoken.example.com", "identity token"},
		{"tokenreg.example.com", "identity token"},
		{"missing.example.com", "no entry for it; the file has: "},
	}
	for _, r := range refusals {
		_, errOut, code := runCmd(t, "create", "refused", "-n", ns, "--from-docker-config="+path, "--registry", r.registry)
		if code != 2 || !strings.Contains(errOut, r.want) {
			t.Errorf("--registry %s: exit %d, %q; want exit 2 with %q", r.registry, code, errOut, r.want)
		}
		noPassword(t, errOut)
		if strings.Contains(errOut, "elsewhere-password") {
			t.Errorf("another registry's password in the output: %q", errOut)
		}
	}
	if secretExists(t, ns, "refused") {
		t.Error("a refused entry was saved")
	}
}

func TestCreateBadInput(t *testing.T) {
	ns := newNamespace(t, "badinput")
	emptyFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no server", "pw", []string{"--username", "u", "--password-stdin"}, "--server and --username are required"},
		{"two password sources", "pw", []string{"--server", "r.example.com", "--username", "u", "--password-stdin", "--password-file", "f"}, "give the password one way"},
		{"no password source", "", []string{"--server", "r.example.com", "--username", "u"}, "give the password one way"},
		{"empty password", "\n", []string{"--server", "r.example.com", "--username", "u", "--password-stdin"}, "the password is empty"},
		{"empty password file", "", []string{"--server", "r.example.com", "--username", "u", "--password-file", emptyFile}, "the password is empty (read from --password-file " + emptyFile + ")"},
		{"missing password file", "", []string{"--server", "r.example.com", "--username", "u", "--password-file", "/nonexistent/pw"}, "--password-file"},
		{"bad server", "pw", []string{"--server", "Reg.Example.com", "--username", "u", "--password-stdin"}, "write reg.example.com"},
		{"tag in server", "pw", []string{"--server", "reg.example.com/app:1", "--username", "u", "--password-stdin"}, "tag or digest"},
		{"registry without from-docker-config", "pw", []string{"--server", "r.example.com", "--registry", "x", "--username", "u", "--password-stdin"}, "--registry goes with --from-docker-config"},
		{"from-docker-config without registry", "", []string{"--from-docker-config=/dev/null"}, "needs --registry"},
		{"bad dry-run", "pw", []string{"--server", "r.example.com", "--username", "u", "--password-stdin", "--dry-run=maybe"}, "--dry-run \"maybe\""},
		{"bad output", "pw", []string{"--server", "r.example.com", "--username", "u", "--password-stdin", "-o", "wide", "--no-verify"}, "--output \"wide\""},
		{"namespaces and -A", "pw", []string{"--server", "r.example.com", "--username", "u", "--password-stdin", "-A", "--namespaces", "x"}, "use one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"create", "bad"}, tt.args...)
			if !slices.Contains(tt.args, "-A") {
				args = append(args, "-n", ns)
			}
			out, errOut, code := runCmdIn(t, tt.stdin, args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 with %q", code, errOut, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
				t.Errorf("stderr has %d lines, want one: %q", n+1, errOut)
			}
			if out != "" || secretExists(t, ns, "bad") {
				t.Errorf("bad input wrote something: stdout %q", out)
			}
		})
	}
	_, errOut, code := runCmdIn(t, "pw", "create", "Bad_Name", "-n", ns, "--server", "r.example.com", "--username", "u", "--password-stdin")
	if code != 2 || !strings.Contains(errOut, `secret name "Bad_Name"`) {
		t.Errorf("invalid name: exit %d, %q", code, errOut)
	}
}

func refNames(refs []corev1.LocalObjectReference) string {
	var names []string
	for _, r := range refs {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

// TestCreateUndoesWhenAWriteIsRefused has the API server refuse one write of a run over
// two namespaces (an admission policy): what the run wrote before is undone, each undo
// is said, and the command fails.
func TestCreateUndoesWhenAWriteIsRefused(t *testing.T) {
	ctx := context.Background()
	oldData := map[string]string{".dockerconfigjson": `{"auths":{"old.example.com":{"username":"old","password":"old-password"}}}`}
	tests := []struct {
		name string
		// existing: the namespaces already have the Secret (old credentials); --overwrite.
		existing bool
		// refuse: what the API server refuses in the second namespace.
		resource string
		op       admissionv1.OperationType
		want     []string
	}{
		{"secret refused", false, "secrets", admissionv1.Create, []string{
			"undone: serviceaccount/builder in A: regcred taken off again, other entries kept",
			"undone: secret/regcred in A: deleted (this run created it)",
			"undid the 2 changes this run made before it failed (listed above): create secret B/regcred: ",
		}},
		{"serviceaccount refused", false, "serviceaccounts", admissionv1.Update, []string{
			"undone: secret/regcred in B: deleted (this run created it)",
			"undone: serviceaccount/builder in A: regcred taken off again, other entries kept",
			"undone: secret/regcred in A: deleted (this run created it)",
			"undid the 3 changes this run made before it failed (listed above): --attach builder: update serviceaccount B/builder: ",
		}},
		{"overwrite refused", true, "secrets", admissionv1.Update, []string{
			"undone: secret/regcred in A: restored to the version this run read",
			"undid the 2 changes this run made before it failed (listed above): update secret B/regcred: ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newNamespace(t, "undo"), newNamespace(t, "undo")
			newServiceAccount(t, a, "builder", "existing")
			newServiceAccount(t, b, "builder")
			old := map[string]*corev1.Secret{}
			if tt.existing {
				for _, ns := range []string{a, b} {
					createSecret(t, ns, "regcred", corev1.SecretTypeDockerConfigJson, oldData)
					s, err := kube.CoreV1().Secrets(ns).Get(ctx, "regcred", metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					old[ns] = s
				}
			}
			message := refuse(t, b, "", tt.resource, tt.op)

			args := []string{"create", "regcred", "--namespaces", a + "," + b, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin", "--attach", "builder"}
			if tt.existing {
				args = append(args, "--overwrite")
			}
			out, errOut, code := runCmdIn(t, alicePassword(), args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stdout %q", code, out)
			}
			for _, w := range append(tt.want, message) {
				w = strings.NewReplacer("A", a, "B", b).Replace(w)
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			noPassword(t, out, errOut)

			for _, ns := range []string{a, b} {
				s, err := kube.CoreV1().Secrets(ns).Get(ctx, "regcred", metav1.GetOptions{})
				switch {
				case !tt.existing && err == nil:
					t.Errorf("secret %s/regcred is left behind", ns)
				case tt.existing && err != nil:
					t.Errorf("secret %s/regcred: %v", ns, err)
				case tt.existing && (s.UID != old[ns].UID || string(s.Data[".dockerconfigjson"]) != oldData[".dockerconfigjson"]):
					t.Errorf("secret %s/regcred: UID %s, old credentials back %v; want UID %s with the old credentials back", ns, s.UID, string(s.Data[".dockerconfigjson"]) == oldData[".dockerconfigjson"], old[ns].UID)
				}
			}
			if got := saSecrets(t, a, "builder"); got != "existing" {
				t.Errorf("serviceaccount %s/builder imagePullSecrets = %s, want existing (as before the run)", a, got)
			}
			if got := saSecrets(t, b, "builder"); got != "" {
				t.Errorf("serviceaccount %s/builder imagePullSecrets = %s, want none (as before the run)", b, got)
			}
		})
	}
}

// TestCreateSaysWhatIsLeftBehind has the API server refuse the write in the second
// namespace and the undo in the first: the command says what stays.
func TestCreateSaysWhatIsLeftBehind(t *testing.T) {
	a, b := newNamespace(t, "left"), newNamespace(t, "left")
	refused := refuse(t, b, "", "secrets", admissionv1.Create)
	refuse(t, a, "", "secrets", admissionv1.Delete)
	_, errOut, code := runCmdIn(t, alicePassword(), "create", "regcred", "--namespaces", a+","+b, "--server", regs.Basic.Host, "--username", "alice", "--password-stdin")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, w := range []string{
		"NOT undone: secret/regcred in " + a + ": delete it: ",
		"; left behind: the Secret this run created\n",
		"error: 1 of the 1 change this run made before it failed could not be undone, left behind: secret/regcred in " + a + " (the Secret this run created): create secret " + b + "/regcred: ",
		refused,
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if !secretExists(t, a, "regcred") {
		t.Errorf("secret %s/regcred is said to be left behind but is not there", a)
	}
}
