package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/internal/dockercfg"
)

func createSecret(t *testing.T, ns, name string, typ corev1.SecretType, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Type: typ, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestShow(t *testing.T) {
	ns := newNamespace(t, "show")
	pw := "show-password-123456"
	good := `{"auths":{"https://index.docker.io/v1/":{"auth":"` + dockercfg.EncodeAuth("alice", pw) + `"},"reg.example.com:abc":{"auth":"` + dockercfg.EncodeAuth("x", "y") + `"},"empty.example.com":{}}}`
	createSecret(t, ns, "good", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": good})
	createSecret(t, ns, "opaque", corev1.SecretTypeOpaque, map[string]string{".dockerconfigjson": good})
	createSecret(t, ns, "badauth", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"r.example.com":{"auth":"bm9jb2xvbg=="}}}`})
	createSecret(t, ns, "noauths", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"r.example.com":{"auth":"` + dockercfg.EncodeAuth("u", "p") + `"}}`})
	createSecret(t, ns, "legacy", corev1.SecretTypeDockercfg, map[string]string{".dockercfg": `{"r.example.com":{"username":"u","password":"p","auth":"` + dockercfg.EncodeAuth("v", "q") + `"}}`})

	tests := []struct {
		name   string
		args   []string
		want   []string
		reveal bool
	}{
		{name: "entries and kubelet keys", args: []string{"show", "good"}, want: []string{"kubernetes.io/dockerconfigjson", "https://index.docker.io/v1/", "index.docker.io", "alice", "(redacted)", "(ignored)", `"empty.example.com" is empty`}},
		{name: "opaque", args: []string{"show", "opaque"}, want: []string{`type "Opaque"`, "kubelet ignores it unless the type is kubernetes.io/dockerconfigjson", "alice"}},
		{name: "auth without colon", args: []string{"show", "badauth"}, want: []string{"does not decode to username:password", "fails every pull"}},
		{name: "missing auths", args: []string{"show", "noauths"}, want: []string{`no "auths" object`}},
		{name: "dockercfg with disagreeing auth", args: []string{"show", "legacy"}, want: []string{"kubernetes.io/dockercfg", "auth and username/password name different credentials"}},
		{name: "reveal", args: []string{"show", "good", "--reveal"}, want: []string{pw}, reveal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, append(tt.args, "-n", ns)...)
			if code != 0 {
				t.Fatalf("exit %d: %q", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("show output lacks %q:\n%s", w, out)
				}
			}
			if !tt.reveal && strings.Contains(out+errOut, pw) {
				t.Errorf("password shown without --reveal:\n%s", out)
			}
		})
	}

	out, _, code := runCmd(t, "show", "good", "-n", ns, "-o", "json")
	var v struct {
		Entries []struct{ Key, KubeletKey, Username, Password string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || len(v.Entries) != 3 {
		t.Fatalf("show -o json: exit %d, %s", code, out)
	}
	if v.Entries[1].KubeletKey != "index.docker.io" || v.Entries[1].Password != "(redacted)" {
		t.Errorf("show -o json entry = %+v", v.Entries[1])
	}
	if _, errOut, code := runCmd(t, "show", "missing", "-n", ns); code != 2 || !strings.Contains(errOut, "not found") {
		t.Errorf("show of a missing Secret: exit %d, %q", code, errOut)
	}
}
