package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/regcred/regcred/internal/dockercfg"
)

// pullSecretsForDoctor: good matches reg.example.com:5000, noport does not.
const pullSecretsForDoctor = `apiVersion: v1
kind: Secret
metadata: {name: good, namespace: apps}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"reg.example.com:5000":{"auth":"%[1]s"}}}'
---
apiVersion: v1
kind: Secret
metadata: {name: noport, namespace: apps}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"reg.example.com":{"auth":"%[1]s"}}}'
`

const manifestsForDoctor = pullSecretsForDoctor + `---
apiVersion: v1
kind: Secret
metadata: {name: opaque, namespace: apps}
stringData:
  .dockerconfigjson: '{"auths":{"reg.example.com:5000":{"auth":"%[1]s"}}}'
---
apiVersion: v1
kind: Secret
metadata: {name: bad, namespace: apps}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"reg.example.com:5000":{"auth":"bm9jb2xvbg=="}}}'
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: apps}
imagePullSecrets: [{name: good}]
`

func deployment(name, image, secret, sa string) string {
	s := "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: apps}\nspec:\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec:\n"
	if sa != "" {
		s += "      serviceAccountName: " + sa + "\n"
	}
	if secret != "" {
		s += "      imagePullSecrets: [{name: " + secret + "}]\n"
	}
	return s + "      containers: [{name: app, image: '" + image + "'}]\n"
}

func TestDoctorFiles(t *testing.T) {
	dir := t.TempDir()
	auth := dockercfg.EncodeAuth("robot", "file-password-123")
	private := "reg.example.com:5000/team/app:1"
	docs := strings.ReplaceAll(manifestsForDoctor, "%[1]s", auth) +
		deployment("healthy", private, "good", "") +
		deployment("via-sa", private, "", "builder") +
		deployment("public", "busybox:1.36", "", "") +
		deployment("wrong-port", private, "noport", "") +
		deployment("missing", private, "nothere", "") +
		deployment("opaque", private, "opaque", "") +
		deployment("malformed", private, "bad", "") +
		deployment("badname", "Team/App:1", "", "")
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(docs), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a manifest"), 0o600)
	// No cluster at all: a kubeconfig pointing nowhere.
	dead := filepath.Join(dir, "kubeconfig")
	os.WriteFile(dead, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n"), 0o600)

	out, errOut, code := runCmd(t, "--kubeconfig", dead, "doctor", "-f", dir, "-o", "json")
	if code != 1 {
		t.Fatalf("doctor -f: exit %d, %q", code, errOut)
	}
	var rep struct {
		Findings []struct{ Code, Severity, Pod string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Pod+"="+f.Code+"/"+f.Severity)
	}
	sort.Strings(got)
	want := []string{
		"Deployment/badname=InvalidImageName/error",
		"Deployment/malformed=SecretMalformed/error",
		"Deployment/missing=SecretNotFound/warning",
		"Deployment/opaque=SecretWrongType/error",
		"Deployment/wrong-port=NoMatchingCredential/error",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("doctor -f findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(out, "file-password-123") {
		t.Error("doctor -f printed a password")
	}
	if _, errOut, code := runCmd(t, "doctor", "-f", filepath.Join(dir, "nope.yaml")); code != 2 || !strings.Contains(errOut, "-f:") {
		t.Errorf("doctor -f missing file: exit %d, %q", code, errOut)
	}
}

// TestDoctorFilesInputs: -f reads what kubectl -f reads, through kubectl's resource
// builder (offline): files, several -f or a comma-separated list, folders (-R for their
// subfolders), globs, - for standard input, several documents a file, JSON, v1 Lists.
// Kinds doctor does not check are named on stderr. Bad input is one line naming the
// file and the problem, exit 2, nothing printed.
func TestDoctorFilesInputs(t *testing.T) {
	dir := t.TempDir()
	auth := dockercfg.EncodeAuth("robot", "inputs-password-123")
	secrets := strings.ReplaceAll(pullSecretsForDoctor, "%[1]s", auth)
	private := "reg.example.com:5000/team/app:1"
	deploys := deployment("healthy", private, "good", "") + deployment("wrong-port", private, "noport", "")
	list := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "listed", "namespace": "apps"},
   "spec": {"imagePullSecrets": [{"name": "noport"}], "containers": [{"name": "app", "image": "` + private + `"}]}},
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "listed-config"}}]}`
	others := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {}\n"
	files := map[string]string{
		"secrets.yaml":      secrets,
		"deploy.yaml":       deploys,
		"list.json":         list,
		"others.yaml":       others,
		"notes.txt":         "not a manifest",
		"sub/missing.yaml":  deployment("missing", private, "nothere", ""),
		"bad/syntax.yaml":   "apiVersion: v1\nkind: Secret\n  metadata: [\n",
		"bad/syntax.json":   `{"apiVersion": "v1", "kind": `,
		"bad/nokind.yaml":   "apiVersion: v1\nmetadata: {name: s}\nstringData: {password: nokind-password-456}\n",
		"bad/listitem.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: ok}\n- metadata: {name: kindless}\n",
		"bad/type.yaml":     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: not-a-list\n",
		"empty/README.md":   "no manifests here",
		"legacy/old.yaml": strings.ReplaceAll(deployment("old-group", private, "noport", ""), "apps/v1", "extensions/v1beta1") +
			"---\napiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc, namespace: apps}\nspec:\n  template:\n    spec:\n      imagePullSecrets: [{name: good}]\n      containers: [{name: app, image: 'Bad/Name'}]\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in := func(name string) string { return filepath.Join(dir, name) }
	const (
		wrongPort = "Deployment/wrong-port=NoMatchingCredential/error"
		listed    = "listed=NoMatchingCredential/error"
		missing   = "Deployment/missing=SecretNotFound/warning"
	)
	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		findings  []string // pod=code/severity, sorted
		wantErr   string   // a substring of stderr
		forbidden string   // never on stdout or stderr
	}{
		{name: "files", args: []string{"-f", in("secrets.yaml"), "-f", in("deploy.yaml")}, code: 1, findings: []string{wrongPort}},
		{name: "comma-separated files", args: []string{"-f", in("secrets.yaml") + "," + in("deploy.yaml")}, code: 1, findings: []string{wrongPort}},
		{name: "folder", args: []string{"-f", dir}, code: 1, findings: []string{wrongPort, listed},
			wantErr: "doctor -f: not checked, no pod template, pull Secret or ServiceAccount in them: ConfigMap (2), Rollout.argoproj.io (1)\n"},
		{name: "folder with -R", args: []string{"-f", dir, "-R"}, code: 2, wantErr: in("bad/listitem.yaml")}, // -R reaches bad/, in lexical order
		{name: "subfolder with -R", args: []string{"-f", in("secrets.yaml"), "-f", in("sub"), "-R"}, code: 0, findings: []string{missing}},
		{name: "glob", args: []string{"-f", in("*.yaml")}, code: 1, findings: []string{wrongPort}},
		{name: "stdin", args: []string{"-f", "-"}, stdin: secrets + "---\n" + deploys, code: 1, findings: []string{wrongPort}},
		{name: "stdin and a file", args: []string{"-f", "-", "-f", in("list.json")}, stdin: secrets, code: 1, findings: []string{listed},
			wantErr: "ConfigMap (1)"},
		{name: "kinds of old manifests", args: []string{"-f", in("secrets.yaml"), "-f", in("legacy")}, code: 1,
			findings: []string{"Deployment/old-group=NoMatchingCredential/error", "ReplicationController/rc=InvalidImageName/error"}},
		{name: "json List", args: []string{"-f", in("secrets.yaml"), "-f", in("list.json")}, code: 1, findings: []string{listed}},
		{name: "namespace given", args: []string{"-f", in("secrets.yaml"), "-f", in("deploy.yaml"), "-n", "apps"}, code: 1, findings: []string{wrongPort}},

		{name: "bad yaml", args: []string{"-f", in("bad/syntax.yaml")}, code: 2, wantErr: "error parsing " + in("bad/syntax.yaml") + ": error converting YAML to JSON: yaml: line 3"},
		{name: "bad json", args: []string{"-f", in("bad/syntax.json")}, code: 2, wantErr: in("bad/syntax.json")},
		{name: "no kind", args: []string{"-f", in("bad/nokind.yaml")}, code: 2, wantErr: `-f: unable to decode "` + in("bad/nokind.yaml") + `": Object 'Kind' is missing`, forbidden: "nokind-password-456"},
		{name: "List item without kind", args: []string{"-f", in("bad/listitem.yaml")}, code: 2, wantErr: in("bad/listitem.yaml") + `: List item 2: object "kindless" has no kind`},
		{name: "field of the wrong type", args: []string{"-f", in("bad/type.yaml")}, code: 2, wantErr: in("bad/type.yaml") + ": Deployment web: "},
		{name: "missing file", args: []string{"-f", in("nope.yaml")}, code: 2, wantErr: `-f: the path "` + in("nope.yaml") + `" does not exist`},
		{name: "folder without manifests", args: []string{"-f", in("empty")}, code: 2, wantErr: "recognized file extensions are [.json .yaml .yml]"},
		{name: "other namespace than -n", args: []string{"-f", in("secrets.yaml"), "-n", "team"}, code: 2, wantErr: in("secrets.yaml") + ": Secret good is in namespace apps, not team"},
		{name: "URL", args: []string{"-f", "https://example.com/app.yaml"}, code: 2, wantErr: "-f https://example.com/app.yaml: doctor -f reads no URL"},
		{name: "-R without -f", args: []string{"-R"}, code: 2, wantErr: "-R goes with -f"},
		{name: "stdin twice", args: []string{"-f", "-", "-f", "-"}, code: 2, wantErr: "-f - is given 2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmdIn(t, tt.stdin, append([]string{"doctor", "-o", "json"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, stderr %q; want %d", code, errOut, tt.code)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want %q in it", errOut, tt.wantErr)
			}
			if strings.Contains(out+errOut, "inputs-password-123") || (tt.forbidden != "" && strings.Contains(out+errOut, tt.forbidden)) {
				t.Errorf("doctor -f printed a password: stdout %q, stderr %q", out, errOut)
			}
			if code == 2 {
				if out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("bad input: stdout %q, stderr %q; want nothing and one line", out, errOut)
				}
				return
			}
			var rep struct {
				Findings []struct{ Code, Severity, Pod string }
				Summary  struct{ Pods int }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := []string{}
			for _, f := range rep.Findings {
				got = append(got, f.Pod+"="+f.Code+"/"+f.Severity)
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tt.findings, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.findings, "\n"))
			}
		})
	}
}
