package keyring

import (
	"errors"
	"strings"
	"testing"
)

// addVectorSeeds seeds a fuzz test of an image and two keys with the vectors.
func addVectorSeeds(f *testing.F) {
	for _, v := range vectors {
		key2 := ""
		if len(v.keys) > 1 {
			key2 = v.keys[1]
		}
		f.Add(v.image, v.keys[0], key2)
	}
}

func FuzzLookup(f *testing.F) {
	addVectorSeeds(f)
	f.Add("reg.example.com/team/app", "reg.example.com/%zz", "reg.example.com/%3Fx")
	f.Add("[::1]:5000/app", "[::1]:5000", "[::*]:5000")
	f.Add("localhost/app", "*", "index.docker.io")
	f.Add("reg.example.com/app", "[.example.com", `re\g.example.com`)

	f.Fuzz(func(t *testing.T, image, key1, key2 string) {
		entries := []Entry{
			{Key: key1, Username: "u1", Password: "p1", Source: "ns/a"},
			{Key: key2, Username: "u2", Password: "p2", Source: "ns/b"},
			{Key: key1, Username: "u3", Password: "p3", Source: "ns/c"},
		}
		for _, e := range entries {
			if _, err := NormalizeKey(e.Key); err != nil && !errors.Is(err, ErrUnparsableKey) {
				t.Fatalf("NormalizeKey(%q) error = %v, want one wrapping ErrUnparsableKey", e.Key, err)
			}
		}
		res, err := Lookup(image, entries)
		if err != nil {
			if !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("Lookup(%q) error = %v, want one wrapping ErrInvalidImage", image, err)
			}
			return
		}
		if res.Matches == nil || res.NearMisses == nil {
			t.Fatalf("Lookup(%q) = %#v, want non-nil Matches and NearMisses", image, res)
		}
		if len(res.Matches)+len(res.NearMisses) > len(entries) {
			t.Fatalf("Lookup(%q) has %d matches and %d near misses for %d entries", image, len(res.Matches), len(res.NearMisses), len(entries))
		}
		for i, m := range res.Matches {
			norm, err := NormalizeKey(m.Key)
			if err != nil || norm != m.NormalizedKey {
				t.Fatalf("Lookup(%q) match %q NormalizedKey = %q, but NormalizeKey gives %q, %v", image, m.Key, m.NormalizedKey, norm, err)
			}
			if m.Fallback != res.Matches[0].Fallback || (m.Fallback && m.NormalizedKey != defaultRegistryHost) {
				t.Fatalf("Lookup(%q) matches = %#v, want all or none fallback, and fallback only to %q", image, res.Matches, defaultRegistryHost)
			}
			if i > 0 && strings.Compare(res.Matches[i-1].NormalizedKey, m.NormalizedKey) < 0 {
				t.Fatalf("Lookup(%q) normalized keys = %v, want reverse lexicographic order", image, normalizedKeys(res.Matches))
			}
		}
		// Entries u1 and u3 share their key: both are tried or neither, u1 first.
		first, third := -1, -1
		for i, m := range res.Matches {
			switch m.Username {
			case "u1":
				first = i
			case "u3":
				third = i
			}
		}
		if (first < 0) != (third < 0) || first > third {
			t.Fatalf("Lookup(%q) sources = %v, want ns/a and ns/c both or neither, ns/a first", image, sources(res.Matches))
		}
		for _, nm := range res.NearMisses {
			if nm.Reason == "" || strings.ContainsAny(nm.Reason, "\r\n") {
				t.Fatalf("Lookup(%q) near miss %q reason = %q, want one non-empty line", image, nm.Key, nm.Reason)
			}
			if strings.Contains(nm.Reason, "p1") && !strings.Contains(key1+key2+image, "p1") {
				t.Fatalf("Lookup(%q) near miss reason %q contains a password", image, nm.Reason)
			}
		}
	})
}
