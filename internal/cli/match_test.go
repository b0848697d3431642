package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/regcred/regcred/internal/dockercfg"
)

const secretManifests = `apiVersion: v1
kind: Secret
metadata: {name: hub, namespace: team}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"https://index.docker.io/v1/":{"username":"hubuser","password":"hub-password-1"},"registry-1.docker.io":{"username":"wrong","password":"x"}}}'
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
---
apiVersion: v1
kind: Secret
metadata: {name: corp, namespace: team}
type: kubernetes.io/dockercfg
data:
  .dockercfg: %s
---
apiVersion: v1
kind: Secret
metadata: {name: opaque, namespace: team}
stringData:
  .dockerconfigjson: '{"auths":{"reg.example.com":{"username":"o","password":"p"}}}'
`

func writeManifests(t *testing.T) string {
	t.Helper()
	corp := `{"reg.example.com":{"username":"corp","password":"corp-password-1"},"reg.example.com/team":{"username":"team","password":"team-password-1"},"reg.example.com:5000":{"username":"port","password":"p"}}`
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	manifest := strings.Replace(secretManifests, "%s", b64(corp), 1)
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestMatchJSON(t *testing.T) {
	path := writeManifests(t)
	type cred struct {
		Key, Username, Source string
		DockerHubFallback     bool
	}
	type miss struct{ Key, Reason, Source string }
	type report struct {
		Image, Repository string
		Credentials       []cred
		NearMisses        []miss
		Warnings          []string
	}
	tests := []struct {
		name      string
		image     string
		wantRepo  string
		wantCreds []cred
		wantMiss  []string // keys
	}{
		{"docker hub through the fallback", "nginx:1.27", "docker.io/library/nginx",
			[]cred{{"https://index.docker.io/v1/", "hubuser", "team/hub", true}}, []string{"registry-1.docker.io"}},
		{"path key first, then host key", "reg.example.com/team/app:1", "reg.example.com/team/app",
			[]cred{{"reg.example.com/team", "team", "team/corp", false}, {"reg.example.com", "corp", "team/corp", false}}, []string{"reg.example.com:5000"}},
		{"port must match", "reg.example.com:5000/x/app", "reg.example.com:5000/x/app",
			[]cred{{"reg.example.com:5000", "port", "team/corp", false}}, []string{"reg.example.com", "reg.example.com/team"}},
		{"nothing applies", "quay.io/org/app", "quay.io/org/app", []cred{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, "match", tt.image, "--secret-file", path, "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %q", code, errOut)
			}
			var r report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if r.Repository != tt.wantRepo {
				t.Errorf("repository = %q, want %q", r.Repository, tt.wantRepo)
			}
			if diff := cmp.Diff(tt.wantCreds, r.Credentials); diff != "" {
				t.Errorf("credentials differ (-want +got):\n%s", diff)
			}
			var keys []string
			for _, m := range r.NearMisses {
				keys = append(keys, m.Key)
				if m.Reason == "" {
					t.Errorf("near miss %s has no reason", m.Key)
				}
			}
			if diff := cmp.Diff(tt.wantMiss, keys); diff != "" {
				t.Errorf("near-miss keys differ (-want +got):\n%s", diff)
			}
			if !strings.Contains(strings.Join(r.Warnings, "\n"), `team/opaque has type "Opaque"`) {
				t.Errorf("no warning about the Opaque Secret: %v", r.Warnings)
			}
			if strings.Contains(out, "password-1") {
				t.Errorf("match output carries a password: %s", out)
			}
		})
	}
	// The credentials key is [] (not null) when none apply.
	out, _, _ := runCmd(t, "match", "quay.io/org/app", "--secret-file", path, "-o", "json")
	if !strings.Contains(out, `"credentials": []`) {
		t.Errorf("credentials is not [] when empty:\n%s", out)
	}
}

func TestMatchSources(t *testing.T) {
	ns := newNamespace(t, "match")
	createSecret(t, ns, "a", "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": `{"auths":{"reg.example.com":{"username":"first","password":"p"}}}`})
	createSecret(t, ns, "b", "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": `{"auths":{"https://reg.example.com":{"username":"second","password":"p"}}}`})
	out, errOut, code := runCmd(t, "match", "reg.example.com/app", "-n", ns, "--secret", "a", "--secret", "missing", "--secret", "b")
	if code != 0 {
		t.Fatalf("exit %d: %q", code, errOut)
	}
	first, second := strings.Index(out, "user first"), strings.Index(out, "user second")
	if first < 0 || second < 0 || first > second {
		t.Errorf("entries under one key must keep Secret order (a, then b):\n%s", out)
	}
	if !strings.Contains(out, "secret "+ns+"/missing does not exist: the kubelet skips it") {
		t.Errorf("no warning for the missing Secret:\n%s", out)
	}

	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(`{"auths":{"ghcr.io":{"auth":"`+dockercfg.EncodeAuth("me", "tok")+`"}},"credsStore":"desktop"}`), 0o600)
	out, errOut, code = runCmd(t, "match", "ghcr.io/org/app", "--docker-config", cfg)
	if code != 0 || !strings.Contains(out, "1. ghcr.io  user me") || !strings.Contains(out, "credential helper") {
		t.Errorf("match --docker-config: exit %d, %q %q", code, out, errOut)
	}
}

func TestMatchBadInput(t *testing.T) {
	path := writeManifests(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\":{\"r\":{\"auth\":\"!!\"}}}'\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no source", []string{"match", "nginx"}, 2, "give the credentials one way"},
		{"two sources", []string{"match", "nginx", "--secret-file", path, "--docker-config", path}, 2, "one way"},
		{"bad image", []string{"match", "Nginx:latest", "--secret-file", path}, 2, `image: couldn't parse image name "Nginx:latest"`},
		{"missing file", []string{"match", "nginx", "--secret-file", "/nonexistent.yaml"}, 2, "--secret-file"},
		{"malformed secret", []string{"match", "nginx", "--secret-file", bad}, 2, `"auth" is not valid base64`},
		{"bad output", []string{"match", "nginx", "--secret-file", path, "-o", "name"}, 2, `--output "name": match prints json or yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, %q; want %d with %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}
