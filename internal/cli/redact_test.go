package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysWithUserInfoAreRedacted: the kubelet accepts keys like
// https://user:password@host; their password must not be printed.
func TestKeysWithUserInfoAreRedacted(t *testing.T) {
	const leak = "leaky-password-9"
	cfg := `{"auths":{"https://bob:` + leak + `@reg.example.com":{"username":"u","password":"p"},"bob:` + leak + `@reg.example.com:abc":{},"HTTPS://bob:` + leak + `@reg.example.com":{}}}`
	ns := newNamespace(t, "redact")
	createSecret(t, ns, "userinfo", "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": cfg})
	path := filepath.Join(t.TempDir(), "s.yaml")
	manifest := "apiVersion: v1\nkind: Secret\nmetadata: {name: userinfo, namespace: x}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '" + cfg + "'\n"
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"show", "userinfo", "-n", ns},
		{"show", "userinfo", "-n", ns, "-o", "json"},
		{"match", "reg.example.com/app", "--secret-file", path},
		{"match", "reg.example.com/app", "--secret-file", path, "-o", "json"},
		{"match", "reg.example.com:5000/app", "--secret-file", path},
	} {
		out, errOut, _ := runCmd(t, args...)
		if strings.Contains(out+errOut, leak) {
			t.Errorf("%v prints the password of a key:\n%s%s", args, out, errOut)
		}
		if !strings.Contains(out, "REDACTED@reg.example.com") {
			t.Errorf("%v does not show the redacted key:\n%s", args, out)
		}
	}
}
