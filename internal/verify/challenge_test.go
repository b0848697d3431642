package verify

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []Challenge
	}{
		{"basic", `Basic realm="Registry Realm"`, []Challenge{{"basic", map[string]string{"realm": "Registry Realm"}}}},
		{"bearer with scope", `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`,
			[]Challenge{{"bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/nginx:pull"}}}},
		{"spaces around commas and equals", `Bearer realm = "r" ,  service=s`, []Challenge{{"bearer", map[string]string{"realm": "r", "service": "s"}}}},
		{"bearer with error", `Bearer realm="r",error="insufficient_scope",scope="repository:a:pull"`,
			[]Challenge{{"bearer", map[string]string{"realm": "r", "error": "insufficient_scope", "scope": "repository:a:pull"}}}},
		{"two challenges", `Basic realm="a", Bearer realm="b",service="c"`,
			[]Challenge{{"basic", map[string]string{"realm": "a"}}, {"bearer", map[string]string{"realm": "b", "service": "c"}}}},
		{"escaped quote", `Basic realm="a \"quoted\" realm"`, []Challenge{{"basic", map[string]string{"realm": `a "quoted" realm`}}}},
		{"scheme case", `BEARER Realm="r"`, []Challenge{{"bearer", map[string]string{"realm": "r"}}}},
		{"scheme only", `Basic`, []Challenge{{"basic", map[string]string{}}}},
		{"unterminated quote", `Bearer realm="r`, []Challenge{{"bearer", map[string]string{"realm": "r"}}}},
		{"empty", ``, nil},
		{"junk", `=,,"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseChallenges(tt.header)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseChallenges(%q) differs (-want +got):\n%s", tt.header, diff)
			}
		})
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Basic realm="Registry Realm"`,
		`Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a/b:pull"`,
		`Basic realm="a", Bearer realm="b"`,
		`Negotiate abc==`,
		`Bearer realm="unterminated`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, c := range ParseChallenges(header) {
			if c.Scheme == "" {
				t.Fatalf("ParseChallenges(%q) returned an empty scheme", header)
			}
			if c.Params == nil {
				t.Fatalf("ParseChallenges(%q) returned nil params", header)
			}
		}
	})
}
