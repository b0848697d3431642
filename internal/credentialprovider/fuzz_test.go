package credentialprovider_test

import (
	"strings"
	"testing"

	"github.com/regcred/regcred/internal/credentialprovider"
	"github.com/regcred/regcred/internal/dockercfg"
)

// FuzzParseResponse: any stdout gives a credential the kubelet reads back with the
// same keys, or an error that quotes no password of the input.
func FuzzParseResponse(f *testing.F) {
	const head = `"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse"`
	for _, s := range []string{
		`{` + head + `,"cacheKeyType":"Registry","cacheDuration":"6h","auth":{"reg.example.com":{"username":"AWS","password":"tok"}}}`,
		`{` + head + `,"cacheKeyType":"Global","auth":{"*.example.com":{"username":"u","password":"p"},"reg.example.com/team":{"password":"q"}}}`,
		`{` + head + `,"cacheKeyType":"Image","auth":{"https://u:pw@reg.example.com":{"password":"p"}}}`,
		`{` + head + `,"auth":{"x":{"username":`,
		`null`, `{}`, `[]`, `"x"`,
	} {
		f.Add([]byte(s), "reg.example.com/team/app")
	}
	f.Fuzz(func(t *testing.T, data []byte, image string) {
		c, err := credentialprovider.ParseResponse(data, image)
		if err != nil {
			if c != nil {
				t.Fatal("credential and error")
			}
			return
		}
		cfg, err := dockercfg.Parse(c.DockerConfigJSON, dockercfg.ConfigJSON)
		if err != nil {
			t.Fatalf("the dockerconfigjson made does not parse: %v", err)
		}
		if len(cfg.Entries) != len(c.Keys) || len(c.Keys) == 0 {
			t.Fatalf("%d entries for %d keys", len(cfg.Entries), len(c.Keys))
		}
		for _, e := range cfg.Entries {
			if e.Username == "" && e.Password == "" {
				t.Fatalf("entry %q without credential", e.Key)
			}
			if strings.TrimSpace(e.Key) == "" && e.Key != "" {
				t.Fatalf("blank key %q", e.Key)
			}
		}
	})
}

// FuzzRedact: a known secret never survives redaction.
func FuzzRedact(f *testing.F) {
	f.Add("error: password=hunter2 for user bob", "hunter2")
	f.Add("token eyJa.eyJb.c rejected", "s3cret-value")
	f.Fuzz(func(t *testing.T, text, secret string) {
		if len(secret) < 4 {
			return
		}
		got := credentialprovider.Redact(text+secret+text, secret)
		// What the redaction wrote is no leak, even where it spells part of the secret.
		if strings.Contains(strings.ReplaceAll(got, "REDACTED", "\x00"), secret) {
			t.Fatalf("Redact kept %q in %q", secret, got)
		}
	})
}
