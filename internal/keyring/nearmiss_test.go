package keyring

import (
	"slices"
	"strings"
	"testing"
)

func TestNearMissReasons(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		other []string // further keys, listed before key
		image string
		want  []string // distinctive parts of the reason
	}{
		{name: "key without port", key: "reg.example.com", image: "reg.example.com:5000/team/app",
			want: []string{"key has no port but the image is on port 5000", `write "reg.example.com:5000"`}},
		{name: "key with 443, image without port", key: "reg.example.com:443/team", image: "reg.example.com/team/app",
			want: []string{"key has port 443 but the image names no port: the kubelet compares ports as written", `write "reg.example.com/team"`}},
		{name: "different ports", key: "reg.example.com:5001", image: "reg.example.com:5000/app",
			want: []string{"key has port 5001 but the image is on port 5000"}},
		{name: "host letter case", key: "https://REG.example.com", image: "reg.example.com/app",
			want: []string{`"REG.example.com" differs from the image host "reg.example.com" only in letter case`, "case-sensitively"}},
		{name: "pattern letter case", key: "Reg*.example.com", image: "registry.example.com/app",
			want: []string{"only in letter case"}},
		{name: "capital scheme", key: "HTTPS://reg.example.com/team", image: "reg.example.com/team/app",
			want: []string{`scheme "HTTPS://" is not recognised`, `part of the host "HTTPS:"`, `write "https://reg.example.com/team"`}},
		{name: "mixed-case http scheme", key: "Http://reg.example.com", image: "reg.example.com/app",
			want: []string{`scheme "Http://" is not recognised`}},
		{name: "path not a prefix", key: "reg.example.com/other", image: "reg.example.com/team/app",
			want: []string{`key path "/other" is not a prefix of the image path "/team/app"`}},
		{name: "path case", key: "reg.example.com/Team", image: "reg.example.com/team/app",
			want: []string{"paths compare case-sensitively"}},
		{name: "hub path without library", key: "docker.io/nginx", image: "nginx",
			want: []string{`key path "/nginx" is not a prefix of the image path "/library/nginx"`, "official images are under /library"}},
		{name: "hub org path", key: "docker.io/otherorg", image: "myorg/app",
			want: []string{`key path "/otherorg" is not a prefix of the image path "/myorg/app"`}},
		{name: "tag in key", key: "reg.example.com/team/app:1.0", image: "reg.example.com/team/app:1.0",
			want: []string{`tag or digest ":1.0"`, "keys name a registry or repository, never a tag", `write "reg.example.com/team/app"`}},
		{name: "digest in key", key: "reg.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			image: "reg.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			want:  []string{`tag or digest "@sha256:`, "never a tag", `write "reg.example.com/app"`}},
		{name: "registry-1.docker.io", key: "registry-1.docker.io", image: "nginx",
			want: []string{"Docker Hub's API host", `write "docker.io" or "https://index.docker.io/v1/"`}},
		{name: "index.docker.io with path", key: "index.docker.io/library", image: "nginx",
			want: []string{`normalizes to "index.docker.io/library"`, `write "docker.io/library"`, `"https://index.docker.io/v1/"`}},
		{name: "v1 without trailing slash", key: "https://index.docker.io/v1", image: "nginx",
			want: []string{"without the trailing slash", `write "https://index.docker.io/v1/" or "docker.io"`}},
		{name: "v2 without trailing slash", key: "https://index.docker.io/v2", image: "myorg/app",
			want: []string{"without the trailing slash"}},
		{name: "index.docker.io with port", key: "index.docker.io:443", image: "nginx",
			want: []string{`normalizes to "index.docker.io:443"`, `write "https://index.docker.io/v1/" or "docker.io"`}},
		{name: "unknown hub alias", key: "registry.hub.docker.com", image: "nginx",
			want: []string{"Docker Hub name the kubelet does not recognise", `write "docker.io" or "https://index.docker.io/v1/"`}},
		{name: "hub key for registry-1 image", key: "docker.io", image: "registry-1.docker.io/myorg/app",
			want: []string{`the image names the registry "registry-1.docker.io" explicitly`, `"docker.io/myorg/app"`}},
		{name: "hub key hidden by another match", key: "https://index.docker.io/v1/", other: []string{"docker.io/library"}, image: "nginx",
			want: []string{`not used because "docker.io/library" matched`, "only when no other key matches"}},
		{name: "hub key hidden by the first of several matches", key: "index.docker.io", other: []string{"docker.io", "docker.io/library"}, image: "nginx:1.27",
			want: []string{`not used because "docker.io/library" matched`}},
		{name: "docker.io key for capitalised first component", key: "docker.io/myorg", image: "MyOrg/app",
			want: []string{`first component "MyOrg" has capitals`, "parsed as a registry host", `exactly "index.docker.io"`}},
		{name: "wildcard label count", key: "*.example.com", image: "example.com/app",
			want: []string{"`*` matches exactly one label", `"*.example.com" has 3 labels`, `"example.com" has 2 labels`}},
		{name: "wildcard for deeper host", key: "*.example.com", image: "a.reg.example.com/app",
			want: []string{"`*` matches exactly one label"}},
		{name: "bare wildcard", key: "*", image: "reg.example.com/app",
			want: []string{"`*` matches exactly one label", "has 1 label but"}},
		{name: "wildcard for hub", key: "*.docker.io", image: "nginx",
			want: []string{"`*` matches exactly one label"}},
		{name: "wildcard label mismatch", key: "reg*.example.com", image: "abc.example.com/app",
			want: []string{`label "reg*" does not match "abc"`}},
		{name: "wildcard IP with wrong port", key: "10.0.0.*", image: "10.0.0.5:5000/app",
			want: []string{"key has no port but the image is on port 5000"}},
		{name: "parent domain", key: "example.com", image: "reg.example.com/app",
			want: []string{"never parent domains or subdomains", `write "reg.example.com"`}},
		{name: "subdomain", key: "eu.reg.example.com", image: "reg.example.com/app",
			want: []string{"never parent domains or subdomains"}},
		{name: "unparsable port", key: "reg.example.com:abc", image: "reg.example.com/app",
			want: []string{`the kubelet cannot parse this key and ignores it: invalid port ":abc" after host`}},
		{name: "unparsable whitespace", key: "docker.io ", image: "nginx",
			want: []string{"the kubelet cannot parse this key and ignores it", "leading or trailing whitespace"}},
		{name: "character class", key: "reg[0-9].example.com", image: "reg1.example.com/app",
			want: []string{"the kubelet cannot parse this key and ignores it", "only `*` works as a wildcard"}},
		{name: "question mark wildcard", key: "re?.example.com", image: "reg.example.com/app",
			want: []string{`"?" starts a URL query or fragment, so the kubelet cuts this key to "re"`, "only `*` works as a wildcard"}},
		{name: "unparsable escape", key: "reg.example.com/team%zz", image: "reg.example.com/team/app",
			want: []string{"the kubelet cannot parse this key and ignores it", "invalid URL escape"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := append(slices.Clone(tt.other), tt.key)
			res, err := Lookup(tt.image, entriesFor(keys...))
			if err != nil {
				t.Fatalf("Lookup(%q) error = %v", tt.image, err)
			}
			if len(res.NearMisses) != 1 || res.NearMisses[0].Key != tt.key {
				t.Fatalf("Lookup(%q) near misses = %v, want one for %q", tt.image, res.NearMisses, tt.key)
			}
			nm := res.NearMisses[0]
			if want := "ns/secret" + string(rune('0'+len(tt.other))); nm.Source != want {
				t.Errorf("Lookup(%q) near miss source = %q, want %q", tt.image, nm.Source, want)
			}
			for _, w := range tt.want {
				if !strings.Contains(nm.Reason, w) {
					t.Errorf("Lookup(%q) near miss %q reason = %q, want it to contain %q", tt.image, tt.key, nm.Reason, w)
				}
			}
			if strings.ContainsAny(nm.Reason, "\r\n") {
				t.Errorf("Lookup(%q) near miss %q reason = %q, want one line", tt.image, tt.key, nm.Reason)
			}
		})
	}
}

func TestNearMissOmitsUnrelated(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		image string
	}{
		{name: "other registries for hub image", keys: []string{"quay.io", "ghcr.io/org", "reg.example.com:5000", "gcr.io"}, image: "nginx"},
		{name: "hub keys for private registry", keys: []string{"https://index.docker.io/v1/", "docker.io", "registry-1.docker.io"}, image: "reg.example.com/app"},
		{name: "hub keys for localhost", keys: []string{"docker.io", "registry-1.docker.io"}, image: "localhost/app"},
		{name: "unrelated unparsable key", keys: []string{"quay.io:abc", "%zz"}, image: "reg.example.com/app"},
		{name: "unrelated wildcard", keys: []string{"*.quay.io", "reg*.example.org"}, image: "reg.example.com/app"},
		{name: "sibling host", keys: []string{"other.example.com"}, image: "reg.example.com/app"},
		{name: "top-level domain only", keys: []string{"com"}, image: "reg.example.com/app"},
		{name: "matched keys are not near misses", keys: []string{"reg.example.com", "reg.example.com/team"}, image: "reg.example.com/team/app"},
		{name: "fallback key used is not a near miss", keys: []string{"https://index.docker.io/v1/"}, image: "nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Lookup(tt.image, entriesFor(tt.keys...))
			if err != nil {
				t.Fatalf("Lookup(%q) error = %v", tt.image, err)
			}
			if res.NearMisses == nil || len(res.NearMisses) != 0 {
				t.Errorf("Lookup(%q) near misses = %#v, want empty", tt.image, res.NearMisses)
			}
		})
	}
}

func TestNearMissOrderAndMix(t *testing.T) {
	keys := []string{"reg.example.com:443", "quay.io", "reg.example.com", "Reg.example.com", "reg.example.com:abc"}
	res, err := Lookup("reg.example.com/app", entriesFor(keys...))
	if err != nil {
		t.Fatalf("Lookup(%q) error = %v", "reg.example.com/app", err)
	}
	if got, want := matchedKeys(res.Matches), []string{"reg.example.com"}; !slices.Equal(got, want) {
		t.Errorf("Lookup(%q) keys = %v, want %v", "reg.example.com/app", got, want)
	}
	var got []string
	for _, nm := range res.NearMisses {
		got = append(got, nm.Key)
	}
	if want := []string{"reg.example.com:443", "Reg.example.com", "reg.example.com:abc"}; !slices.Equal(got, want) {
		t.Errorf("Lookup(%q) near-miss keys = %v, want %v", "reg.example.com/app", got, want)
	}
}
