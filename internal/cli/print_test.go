package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestCreateOutput: create prints the Secrets it made through kubectl's printers, so
// every -o kubectl has works as in `kubectl create secret ... -o`; one namespace prints
// the Secret, several a v1 List (-o name a line each). A format create does not know,
// or a template that does not parse, is one line, exit 2, and nothing written.
func TestCreateOutput(t *testing.T) {
	a, b := newNamespace(t, "out-a"), newNamespace(t, "out-b")
	tests := []struct {
		name     string
		args     []string
		code     int
		wantOut  func(t *testing.T, out string)
		wantErr  string
		nameUsed string // the Secret's name, checked to be written (or not, on an error)
	}{
		{name: "json", args: []string{"-n", a, "--dry-run=client", "-o", "json"}, wantOut: oneSecret(a, "json")},
		{name: "yaml", args: []string{"-n", a, "--dry-run=client", "-o", "yaml"}, wantOut: oneSecret(a, "yaml")},
		{name: "kyaml", args: []string{"-n", a, "--dry-run=client", "-o", "kyaml"}, wantOut: oneSecret(a, "yaml")},
		{name: "name", args: []string{"-n", a, "--dry-run=client", "-o", "name"}, wantOut: exactly("secret/regcred\n")},
		{name: "jsonpath", args: []string{"-n", a, "--dry-run=client", "-o", "jsonpath={.kind} {.metadata.namespace} {.type}"}, wantOut: exactly("Secret " + a + " kubernetes.io/dockerconfigjson")},
		{name: "go-template", args: []string{"-n", a, "--dry-run=client", "-o", "go-template={{.metadata.name}}/{{.apiVersion}}"}, wantOut: exactly("regcred/v1")},
		{name: "template flag alone", args: []string{"-n", a, "--dry-run=client", "--template", "{{.kind}}"}, wantOut: exactly("Secret")},
		{name: "several namespaces json", args: []string{"--namespaces", a + "," + b, "--dry-run=client", "-o", "json"}, wantOut: listOf(a, b)},
		{name: "several namespaces name", args: []string{"--namespaces", a + "," + b, "--dry-run=client", "-o", "name"}, wantOut: exactly("secret/regcred\nsecret/regcred\n")},
		{name: "several namespaces jsonpath", args: []string{"--namespaces", a + "," + b, "--dry-run=client", "-o", "jsonpath={.kind}:{.items[*].metadata.namespace}"}, wantOut: exactly("List:" + a + " " + b)},
		// What the API server returned has no kind: the printers' type setter adds it.
		{name: "server dry run", args: []string{"-n", a, "--dry-run=server", "-o", "name"}, wantOut: exactly("secret/regcred\n")},
		{name: "written", args: []string{"-n", b, "-o", "jsonpath={.kind}/{.metadata.name} {.metadata.resourceVersion}"}, nameUsed: "printed", wantOut: func(t *testing.T, out string) {
			if kind, rv, _ := strings.Cut(out, " "); kind != "Secret/printed" || rv == "" {
				t.Errorf("stdout %q, want Secret/printed and a resourceVersion from the API server", out)
			}
		}},
		{name: "unknown format", args: []string{"-n", a, "-o", "wide"}, code: 2, nameUsed: "notwritten", wantErr: `--output "wide": use one of json, yaml, kyaml, name, go-template`},
		{name: "bad jsonpath", args: []string{"-n", a, "-o", "jsonpath={.metadata"}, code: 2, nameUsed: "notwritten", wantErr: `--output "jsonpath={.metadata": error parsing jsonpath {.metadata, unclosed action`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "regcred"
			if tt.nameUsed != "" {
				name = tt.nameUsed
			}
			args := append([]string{"create", name, "--server", "reg.example.com", "--username", "u", "--password-stdin", "--no-verify"}, tt.args...)
			out, errOut, code := runCmdIn(t, "create-output-pw", args...)
			if code != tt.code {
				t.Fatalf("exit %d, stderr %q; want %d", code, errOut, tt.code)
			}
			if tt.code != 0 {
				if !strings.Contains(errOut, tt.wantErr) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("stderr %q, want one line with %q", errOut, tt.wantErr)
				}
				if out != "" || secretExists(t, a, name) {
					t.Errorf("bad -o printed %q or wrote the Secret", out)
				}
				return
			}
			tt.wantOut(t, out)
			if tt.nameUsed != "" && !secretExists(t, b, name) {
				t.Errorf("create -o did not write %s/%s", b, name)
			}
		})
	}
}

func exactly(want string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		if out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
	}
}

// oneSecret checks that the output is the pull Secret, with the credential asked for.
func oneSecret(ns, format string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		var s corev1.Secret
		var err error
		if format == "json" {
			err = json.Unmarshal([]byte(out), &s)
		} else {
			err = yaml.Unmarshal([]byte(out), &s)
		}
		if err != nil {
			t.Fatalf("-o %s is not a Secret: %v\n%s", format, err, out)
		}
		if s.APIVersion != "v1" || s.Kind != "Secret" || s.Namespace != ns || s.Name != "regcred" || s.Type != corev1.SecretTypeDockerConfigJson ||
			!strings.Contains(string(s.Data[corev1.DockerConfigJsonKey]), "reg.example.com") {
			t.Errorf("-o %s printed %s", format, out)
		}
	}
}

func listOf(namespaces ...string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		var l struct {
			APIVersion, Kind string
			Items            []corev1.Secret
		}
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("not a List: %v\n%s", err, out)
		}
		var got []string
		for _, s := range l.Items {
			got = append(got, s.Kind+"/"+s.Namespace+"/"+s.Name)
		}
		want := []string{"Secret/" + namespaces[0] + "/regcred", "Secret/" + namespaces[1] + "/regcred"}
		if l.APIVersion != "v1" || l.Kind != "List" || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("printed %s/%s with %v, want a v1 List of %v", l.APIVersion, l.Kind, got, want)
		}
	}
}

// TestViewOutput: the commands that print regcred's own views take -o json or yaml,
// the same way: yaml is the json view, and anything else is one line naming the value
// and the formats, exit 2, nothing printed.
func TestViewOutput(t *testing.T) {
	cpsClient(t) // status needs the ClusterPullSecret API
	ns := newNamespace(t, "view-out")
	createSecret(t, ns, "regcred", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"reg.example.com":{"username":"u","password":"view-secret-pw"}}}`})
	secretFile := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(secretFile, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\":{\"reg.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd  string
		args []string
	}{
		{"show", []string{"show", "regcred", "-n", ns}},
		{"match", []string{"match", "reg.example.com/app", "--secret-file", secretFile}},
		{"verify", []string{"verify", "regcred", "-n", ns, "--image", regs.Basic.Ref("team/app:v1")}},
		{"doctor", []string{"doctor", "-n", ns}},
		{"status", []string{"status"}},
		{"version", []string{"version"}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			// A view may report a failed check (exit 1): the same with either format.
			jsonOut, errOut, jsonCode := runCmd(t, append(tt.args, "-o", "json")...)
			if jsonCode == 2 {
				t.Fatalf("-o json: exit 2, %q", errOut)
			}
			yamlOut, errOut, code := runCmd(t, append(tt.args, "-o", "yaml")...)
			if code != jsonCode {
				t.Fatalf("-o yaml: exit %d, %q; -o json exited %d", code, errOut, jsonCode)
			}
			var fromJSON, fromYAML any
			if err := json.Unmarshal([]byte(jsonOut), &fromJSON); err != nil {
				t.Fatalf("-o json: %v\n%s", err, jsonOut)
			}
			if err := yaml.Unmarshal([]byte(yamlOut), &fromYAML); err != nil {
				t.Fatalf("-o yaml: %v\n%s", err, yamlOut)
			}
			// Timings and request counts differ from run to run; the shape does not.
			if j, y := shape(fromJSON), shape(fromYAML); j != y {
				t.Errorf("-o yaml is not the json view:\njson %s\nyaml %s", j, y)
			}
			if strings.Contains(jsonOut+yamlOut, "view-secret-pw") {
				t.Error("a view printed the password")
			}
			out, errOut, code := runCmd(t, append(tt.args, "-o", "name")...)
			want := `error: --output "name": ` + tt.cmd + " prints json or yaml (or text without -o)\n"
			if code != 2 || errOut != want || out != "" {
				t.Errorf("-o name: exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, out, errOut, want)
			}
		})
	}
}

// shape is a value's keys and types, not its values.
func shape(v any) string {
	switch v := v.(type) {
	case map[string]any:
		var b strings.Builder
		b.WriteString("{")
		for _, k := range sortedKeys(v) {
			b.WriteString(k + ":" + shape(v[k]) + ",")
		}
		return b.String() + "}"
	case []any:
		if len(v) == 0 {
			return "[]"
		}
		return "[" + shape(v[0]) + "]"
	case string:
		return "s"
	case float64:
		return "n"
	case bool:
		return "b"
	default:
		return "null"
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
