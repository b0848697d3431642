package credentialprovider

import (
	"slices"
	"testing"
)

// FuzzResponsePasswords: any output is read without a panic, and every password
// ParseResponse takes from it is among those redacted when a response is refused.
func FuzzResponsePasswords(f *testing.F) {
	const head = `"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Registry"`
	for _, s := range []string{
		`{` + head + `,"auth":{"reg.example.com":{"username":"AWS","password":"tok"}}}`,
		`{` + head + `,"auth":{"reg.example.com":{"password":"a","Password":"b"}}}`,
		`{` + head + `,"auth":{"reg.example.com":{"password":1}}}`,
		`{` + head + `,"auth":{"x":{"username":`,
		`null`, `{}`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		found := responsePasswords(data)
		c, err := ParseResponse(data, "reg.example.com/team/app")
		if err != nil {
			return
		}
		for _, p := range c.Passwords {
			if !slices.Contains(found, p) {
				t.Fatalf("password %q taken by ParseResponse is not among %q", p, found)
			}
		}
	})
}
