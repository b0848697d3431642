package keyring

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

func TestLookupOrder(t *testing.T) {
	tests := []struct {
		name        string
		keys        []string
		image       string
		wantKeys    []string // written keys, in the kubelet's order
		wantNorm    []string // their normalized keys
		wantSources []string
	}{
		{
			name:        "reverse lexicographic normalized keys",
			keys:        []string{"reg.example.com", "*.example.com", "reg.example.com/team/app", "reg.example.com/team"},
			image:       "reg.example.com/team/app:1",
			wantKeys:    []string{"reg.example.com/team/app", "reg.example.com/team", "reg.example.com", "*.example.com"},
			wantNorm:    []string{"reg.example.com/team/app", "reg.example.com/team", "reg.example.com", "*.example.com"},
			wantSources: []string{"ns/secret2", "ns/secret3", "ns/secret0", "ns/secret1"},
		},
		{
			name:        "same normalized key keeps input order",
			keys:        []string{"https://reg.example.com/v2/team", "reg.example.com", "reg.example.com/team", "http://reg.example.com/"},
			image:       "reg.example.com/team/app",
			wantKeys:    []string{"https://reg.example.com/v2/team", "reg.example.com/team", "reg.example.com", "http://reg.example.com/"},
			wantNorm:    []string{"reg.example.com/team", "reg.example.com/team", "reg.example.com", "reg.example.com"},
			wantSources: []string{"ns/secret0", "ns/secret2", "ns/secret1", "ns/secret3"},
		},
		{
			name:        "order is by string, not specificity",
			keys:        []string{"*.example.com/team/app", "reg.example.com"},
			image:       "reg.example.com/team/app",
			wantKeys:    []string{"reg.example.com", "*.example.com/team/app"},
			wantNorm:    []string{"reg.example.com", "*.example.com/team/app"},
			wantSources: []string{"ns/secret1", "ns/secret0"},
		},
		{
			name:        "literal label before wildcard label",
			keys:        []string{"10.0.0.*:5000", "10.0.0.5:5000"},
			image:       "10.0.0.5:5000/app",
			wantKeys:    []string{"10.0.0.5:5000", "10.0.0.*:5000"},
			wantNorm:    []string{"10.0.0.5:5000", "10.0.0.*:5000"},
			wantSources: []string{"ns/secret1", "ns/secret0"},
		},
		{
			name:        "several fallback entries keep input order",
			keys:        []string{"index.docker.io", "quay.io", "https://index.docker.io/v1/", "http://index.docker.io/v2/"},
			image:       "busybox",
			wantKeys:    []string{"index.docker.io", "https://index.docker.io/v1/", "http://index.docker.io/v2/"},
			wantNorm:    []string{"index.docker.io", "index.docker.io", "index.docker.io"},
			wantSources: []string{"ns/secret0", "ns/secret2", "ns/secret3"},
		},
		{
			name:        "unparsable key dropped, others kept",
			keys:        []string{"reg.example.com:abc", "reg.example.com"},
			image:       "reg.example.com/app",
			wantKeys:    []string{"reg.example.com"},
			wantNorm:    []string{"reg.example.com"},
			wantSources: []string{"ns/secret1"},
		},
		{
			name:        "no match gives empty matches",
			keys:        []string{"quay.io"},
			image:       "reg.example.com/app",
			wantKeys:    []string{},
			wantNorm:    []string{},
			wantSources: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Lookup(tt.image, entriesFor(tt.keys...))
			if err != nil {
				t.Fatalf("Lookup(%q) error = %v", tt.image, err)
			}
			if res.Matches == nil {
				t.Errorf("Lookup(%q) Matches = nil, want non-nil", tt.image)
			}
			if got := matchedKeys(res.Matches); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("Lookup(%q) keys = %v, want %v", tt.image, got, tt.wantKeys)
			}
			if got := normalizedKeys(res.Matches); !slices.Equal(got, tt.wantNorm) {
				t.Errorf("Lookup(%q) normalized keys = %v, want %v", tt.image, got, tt.wantNorm)
			}
			if got := sources(res.Matches); !slices.Equal(got, tt.wantSources) {
				t.Errorf("Lookup(%q) sources = %v, want %v", tt.image, got, tt.wantSources)
			}
		})
	}
}

func TestLookupMatchCarriesEntry(t *testing.T) {
	entries := entriesFor("docker.io")
	res, err := Lookup("nginx", entries)
	if err != nil {
		t.Fatalf("Lookup(%q) error = %v", "nginx", err)
	}
	if len(res.Matches) != 1 || res.Matches[0].Entry != entries[0] {
		t.Fatalf("Lookup(%q) matches = %#v, want the entry %#v", "nginx", res.Matches, entries[0])
	}
}

func TestLookupRepository(t *testing.T) {
	tests := []struct {
		image string
		want  string
	}{
		{"nginx", "docker.io/library/nginx"},
		{"nginx:1.27", "docker.io/library/nginx"},
		{"docker.io/nginx", "docker.io/library/nginx"},
		{"index.docker.io/myorg/app", "docker.io/myorg/app"},
		{"myorg/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/myorg/app"},
		{"reg.example.com:5000/team/app:1@sha512:" + strings.Repeat("ab", 64), "reg.example.com:5000/team/app"},
		{"localhost/app", "localhost/app"},
		{"MyOrg/app", "MyOrg/app"},
		{"[::1]:5000/app", "[::1]:5000/app"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			res, err := Lookup(tt.image, nil)
			if err != nil {
				t.Fatalf("Lookup(%q) error = %v", tt.image, err)
			}
			if res.Repository != tt.want || res.Image != tt.image {
				t.Errorf("Lookup(%q) = {Image: %q, Repository: %q}, want {%q, %q}", tt.image, res.Image, res.Repository, tt.image, tt.want)
			}
		})
	}
}

func TestLookupInvalidImage(t *testing.T) {
	tests := []struct {
		name  string
		image string
		want  string // distinctive part of the message
		is    error  // an error the reference package returns, or nil
	}{
		{name: "empty", image: "", want: "the image is empty", is: reference.ErrReferenceInvalidFormat},
		{name: "uppercase path", image: "myorg/App", want: "must be lowercase"},
		{name: "scheme", image: "https://reg.example.com/app", want: `drop the "https://"`},
		{name: "trailing space", image: "nginx ", want: "whitespace"},
		{name: "bad tag", image: "nginx:1.27:2", want: "expected [host[:port]/]path"},
		{name: "short digest", image: "nginx@sha256:abc", want: "invalid"},
		{name: "image ID", image: strings.Repeat("0123456789abcdef", 4), want: "bare image ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Lookup(tt.image, entriesFor("docker.io"))
			if !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("Lookup(%q) error = %v, want one wrapping ErrInvalidImage", tt.image, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Lookup(%q) error = %v, want one wrapping %v", tt.image, err, tt.is)
			}
			msg := err.Error()
			if !strings.Contains(msg, "couldn't parse image name "+strconv.Quote(tt.image)) || !strings.Contains(msg, tt.want) {
				t.Errorf("Lookup(%q) error = %q, want it to name the image and contain %q", tt.image, msg, tt.want)
			}
			if len(res.Matches) != 0 {
				t.Errorf("Lookup(%q) matches = %v, want none", tt.image, res.Matches)
			}
		})
	}
}
