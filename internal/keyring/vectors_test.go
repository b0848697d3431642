package keyring

import (
	"slices"
	"strings"
	"testing"
)

// vector is one row of the table in docs/kubelet-pull-semantics.md §2, checked
// against the kubelet's keyring code at v1.37.2.
type vector struct {
	name     string
	keys     []string
	image    string
	want     []string // keys the kubelet tries, in order; nil for none
	fallback bool     // the matches come from the Docker Hub fallback
	nearMiss string   // distinctive part of the near-miss reason of the first key not tried
}

// vectors are the 25 test vectors of docs/kubelet-pull-semantics.md §2, in its order.
var vectors = []vector{
	{name: "01 hub v1 key falls back for nginx", keys: []string{"https://index.docker.io/v1/"}, image: "nginx",
		want: []string{"https://index.docker.io/v1/"}, fallback: true},
	{name: "02 bare index.docker.io falls back", keys: []string{"index.docker.io"}, image: "nginx:1.27",
		want: []string{"index.docker.io"}, fallback: true},
	{name: "03 docker.io matches directly", keys: []string{"docker.io"}, image: "nginx",
		want: []string{"docker.io"}},
	{name: "04 registry-1.docker.io does not match", keys: []string{"registry-1.docker.io"}, image: "nginx",
		nearMiss: `Docker Hub's API host`},
	{name: "05 *.docker.io label count", keys: []string{"*.docker.io"}, image: "nginx",
		nearMiss: "`*` matches exactly one label"},
	{name: "06 docker.io/library path prefix", keys: []string{"docker.io/library"}, image: "nginx",
		want: []string{"docker.io/library"}},
	{name: "07 index.docker.io/library does not match", keys: []string{"index.docker.io/library"}, image: "nginx",
		nearMiss: `write "docker.io/library"`},
	{name: "08 v1 without trailing slash", keys: []string{"https://index.docker.io/v1"}, image: "nginx",
		nearMiss: `without the trailing slash`},
	{name: "09 hub key for explicit registry-1.docker.io image", keys: []string{"https://index.docker.io/v1/"}, image: "registry-1.docker.io/myorg/app",
		nearMiss: `does not treat as Docker Hub`},
	{name: "10 docker.io/myorg for myorg/app", keys: []string{"docker.io/myorg"}, image: "myorg/app:1",
		want: []string{"docker.io/myorg"}},
	{name: "11 key without port, image on 5000", keys: []string{"reg.example.com"}, image: "reg.example.com:5000/team/app",
		nearMiss: "key has no port but the image is on port 5000"},
	{name: "12 key port 443, image without port", keys: []string{"reg.example.com:443"}, image: "reg.example.com/team/app",
		nearMiss: "key has port 443 but the image names no port"},
	{name: "13 wildcard needs one more label", keys: []string{"*.example.com"}, image: "example.com/app",
		nearMiss: "`*` matches exactly one label"},
	{name: "14 wildcard covers one label only", keys: []string{"*.example.com"}, image: "a.reg.example.com/app",
		nearMiss: "`*` matches exactly one label"},
	{name: "15 two wildcards", keys: []string{"*.*.example.com"}, image: "a.reg.example.com/app",
		want: []string{"*.*.example.com"}},
	{name: "16 partial-label wildcard", keys: []string{"reg*.example.com"}, image: "registry.example.com/app",
		want: []string{"reg*.example.com"}},
	{name: "17 path is a string prefix", keys: []string{"reg.example.com/team"}, image: "reg.example.com/teamx/app",
		want: []string{"reg.example.com/team"}},
	{name: "18 v2 path prefix stripped", keys: []string{"https://reg.example.com/v2/team"}, image: "reg.example.com/team/app",
		want: []string{"https://reg.example.com/v2/team"}},
	{name: "19 tag in key", keys: []string{"reg.example.com/team/app:1"}, image: "reg.example.com/team/app:1",
		nearMiss: "keys name a registry or repository, never a tag"},
	{name: "20 host case", keys: []string{"Reg.Example.com"}, image: "reg.example.com/app",
		nearMiss: "only in letter case"},
	{name: "21 capital scheme", keys: []string{"HTTPS://reg.example.com"}, image: "reg.example.com/app",
		nearMiss: `becomes part of the host "HTTPS:"`},
	{name: "22 unparsable port dropped", keys: []string{"reg.example.com:abc"}, image: "reg.example.com/app",
		nearMiss: "the kubelet cannot parse this key and ignores it"},
	{name: "23 wildcard IP label with port", keys: []string{"10.0.0.*:5000"}, image: "10.0.0.5:5000/app",
		want: []string{"10.0.0.*:5000"}},
	{name: "24 direct match suppresses fallback", keys: []string{"https://index.docker.io/v1/", "docker.io/library"}, image: "nginx",
		want: []string{"docker.io/library"}, nearMiss: `not used because "docker.io/library" matched`},
	{name: "25 capitalised first component still falls back", keys: []string{"https://index.docker.io/v1/"}, image: "MyOrg/app",
		want: []string{"https://index.docker.io/v1/"}, fallback: true},
}

func TestLookupVectors(t *testing.T) {
	if len(vectors) != 25 {
		t.Fatalf("len(vectors) = %d, want the 25 of the doc", len(vectors))
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			res, err := Lookup(v.image, entriesFor(v.keys...))
			if err != nil {
				t.Fatalf("Lookup(%q) error = %v", v.image, err)
			}
			want := v.want
			if want == nil {
				want = []string{}
			}
			if got := matchedKeys(res.Matches); !slices.Equal(got, want) {
				t.Errorf("Lookup(%q) keys = %v, want %v", v.image, got, want)
			}
			for _, m := range res.Matches {
				if m.Fallback != v.fallback {
					t.Errorf("Lookup(%q) match %q Fallback = %v, want %v", v.image, m.Key, m.Fallback, v.fallback)
				}
			}
			if v.nearMiss == "" {
				if len(res.NearMisses) != 0 {
					t.Errorf("Lookup(%q) near misses = %v, want none", v.image, res.NearMisses)
				}
				return
			}
			if len(res.NearMisses) != 1 {
				t.Fatalf("Lookup(%q) near misses = %v, want one", v.image, res.NearMisses)
			}
			if got := res.NearMisses[0].Reason; !strings.Contains(got, v.nearMiss) {
				t.Errorf("Lookup(%q) near miss %q reason = %q, want it to contain %q", v.image, res.NearMisses[0].Key, got, v.nearMiss)
			}
		})
	}
}

func TestLookupVector25Repository(t *testing.T) {
	res, err := Lookup("MyOrg/app", entriesFor("https://index.docker.io/v1/"))
	if err != nil {
		t.Fatalf("Lookup(%q) error = %v", "MyOrg/app", err)
	}
	if res.Repository != "MyOrg/app" {
		t.Errorf("Lookup(%q) repository = %q, want %q (MyOrg parsed as the registry host)", "MyOrg/app", res.Repository, "MyOrg/app")
	}
}
