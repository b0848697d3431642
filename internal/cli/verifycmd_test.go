package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/registry"
)

func TestVerifySecret(t *testing.T) {
	ns := newNamespace(t, "verify")
	alice, bob := dockercfg.EncodeAuth("alice", alicePassword()), dockercfg.EncodeAuth("bob", regs.Passwords[registry.UserBob])
	secret := func(name, key, auth string) {
		createSecret(t, ns, name, "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": `{"auths":{"` + key + `":{"auth":"` + auth + `"}}}`})
	}
	secret("basic-ok", regs.Basic.Host, alice)
	secret("basic-wrong", regs.Basic.Host, dockercfg.EncodeAuth("alice", "nope"))
	secret("token-bob", regs.Token.Host, bob)
	secret("wrong-host", "127.0.0.1", alice)
	// Two entries that the kubelet files under one key: it tries both (in an order it
	// does not fix within one Secret) until one works.
	createSecret(t, ns, "two", "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": `{"auths":{"` + regs.Basic.Host + `":{"auth":"` + dockercfg.EncodeAuth("alice", "nope") + `"},"http://` + regs.Basic.Host + `":{"auth":"` + alice + `"}}}`})

	tests := []struct {
		name, secret, image string
		code                int
		want                []string
	}{
		{"pullable", "basic-ok", regs.Basic.Ref("team/app:v1"), 0, []string{"as alice", ": OK"}},
		{"wrong password", "basic-wrong", regs.Basic.Ref("team/app:v1"), 1, []string{"CredentialRejected"}},
		{"missing tag", "basic-ok", regs.Basic.Ref("team/app:nope"), 1, []string{"ImageNotFound"}},
		{"no pull right", "token-bob", regs.Token.Ref("team/app:v1"), 1, []string{"AccessDenied", "registries do not say which"}},
		{"key for the wrong host", "wrong-host", regs.Basic.Ref("team/app:v1"), 1, []string{"anonymously (no credential applies): AuthRequired", "key 127.0.0.1", "port"}},
		{"one of two credentials works", "two", regs.Basic.Ref("team/app:v1"), 0, []string{": OK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, "verify", tt.secret, "-n", ns, "--image", tt.image)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %q %q", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("verify output lacks %q:\n%s", w, out)
				}
			}
			noPassword(t, out, errOut)
		})
	}

	out, _, code := runCmd(t, "verify", "token-bob", "-n", ns, "--image", regs.Token.Ref("team/app:v1"), "-o", "json")
	var r struct {
		Pullable bool
		Attempts []struct {
			Key    string
			Result struct{ Outcome string }
		}
	}
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil || r.Pullable || len(r.Attempts) != 1 || r.Attempts[0].Result.Outcome != "AccessDenied" {
		t.Errorf("verify -o json: exit %d, %s", code, out)
	}
}

func TestVerifyCredential(t *testing.T) {
	out, errOut, code := runCmdIn(t, alicePassword()+"\n", "verify", "--server", regs.Token.Host, "--username", "alice", "--password-stdin", "--image", regs.Token.Ref("team/app:v1"))
	if code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("verify --server: exit %d, %q %q", code, out, errOut)
	}
	_, errOut, code = runCmdIn(t, alicePassword(), "verify", "--server", "other.example.com", "--username", "alice", "--password-stdin", "--image", regs.Token.Ref("team/app:v1"))
	if code != 1 || !strings.Contains(errOut, "would not be used for") {
		t.Errorf("verify with a server that does not match: exit %d, %q", code, errOut)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--image", "nginx"}, "name a Secret"},
		{[]string{"verify", "s", "--server", "x", "--image", "nginx"}, "not both"},
		{[]string{"verify", "s"}, "--image is required"},
		{[]string{"verify", "--server", "x", "--username", "u", "--image", "nginx"}, "go together"},
		{[]string{"verify", "--server", "x", "--username", "u", "--password-stdin", "--image", "nginx"}, "the password is empty (read from stdin)"},
	} {
		if _, errOut, code := runCmdIn(t, "\n", tt.args...); code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tt.args, code, errOut, tt.want)
		}
	}
}
