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

const manifestsForDoctor = `apiVersion: v1
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
---
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
