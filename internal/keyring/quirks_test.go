package keyring

import (
	"slices"
	"testing"
)

// TestLookupKubeletQuirks pins down kubelet behaviour beyond the doc's table, each
// checked against k8s.io/kubernetes/pkg/credentialprovider at v1.37.2.
func TestLookupKubeletQuirks(t *testing.T) {
	tests := []struct {
		name     string
		keys     []string
		image    string
		want     []string
		fallback bool
	}{
		{name: "localhost image gets the Docker Hub fallback", keys: []string{"https://index.docker.io/v1/"}, image: "localhost/app",
			want: []string{"https://index.docker.io/v1/"}, fallback: true},
		{name: "localhost with port gets no fallback", keys: []string{"https://index.docker.io/v1/"}, image: "localhost:5000/app"},
		{name: "bare wildcard matches a one-label host", keys: []string{"*"}, image: "localhost/app", want: []string{"*"}},
		{name: "http scheme is stripped like https", keys: []string{"http://reg.example.com"}, image: "reg.example.com/app",
			want: []string{"http://reg.example.com"}},
		{name: "user information is dropped", keys: []string{"user:pw@reg.example.com/team"}, image: "reg.example.com/team/app",
			want: []string{"user:pw@reg.example.com/team"}},
		{name: "empty port equals no port", keys: []string{"docker.io:"}, image: "nginx", want: []string{"docker.io:"}},
		{name: "escaped query mark widens the key to the whole host", keys: []string{"reg.example.com/%3Fteam"}, image: "reg.example.com/other/app",
			want: []string{"reg.example.com/%3Fteam"}},
		{name: "trailing slash path must be a prefix", keys: []string{"reg.example.com/team/"}, image: "reg.example.com/team"},
		{name: "hub image on port 443 gets no fallback", keys: []string{"index.docker.io"}, image: "docker.io:443/library/nginx"},
		{name: "v1 without slash is a path for other registries too", keys: []string{"https://reg.example.com/v1"}, image: "reg.example.com/v1/app",
			want: []string{"https://reg.example.com/v1"}},
		{name: "IPv6 host", keys: []string{"[::1]:5000"}, image: "[::1]:5000/app", want: []string{"[::1]:5000"}},
		{name: "character class key is dropped", keys: []string{"reg[0-9].example.com"}, image: "reg1.example.com/app"},
		{name: "question mark cuts the key to its first label", keys: []string{"re?.example.com"}, image: "reg.example.com/app"},
		{name: "question mark key matches the cut host", keys: []string{"MyOrg?x"}, image: "MyOrg/app", want: []string{"MyOrg?x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Lookup(tt.image, entriesFor(tt.keys...))
			if err != nil {
				t.Fatalf("Lookup(%q) error = %v", tt.image, err)
			}
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if got := matchedKeys(res.Matches); !slices.Equal(got, want) {
				t.Errorf("Lookup(%q) keys = %v, want %v", tt.image, got, want)
			}
			for _, m := range res.Matches {
				if m.Fallback != tt.fallback {
					t.Errorf("Lookup(%q) match %q Fallback = %v, want %v", tt.image, m.Key, m.Fallback, tt.fallback)
				}
			}
		})
	}
}
