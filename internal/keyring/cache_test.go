package keyring

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// withCredentials is entries with the given keys, credentials and sources of one
// namespace: the pull Secrets of another namespace with the same keys.
func withCredentials(namespace string, keys ...string) []Entry {
	entries := make([]Entry, len(keys))
	for i, key := range keys {
		entries[i] = Entry{Key: key, Username: fmt.Sprintf("%s-user%d", namespace, i), Password: fmt.Sprintf("%s-password-%d", namespace, i), Source: fmt.Sprintf("%s/secret%d", namespace, i)}
	}
	return entries
}

// TestCacheLookupIsLookup looks images up through one Cache in keyrings that share
// keys and in keyrings that do not, and checks each answer against Lookup's: the
// credentials and sources of the keyring asked, never those of an earlier one.
func TestCacheLookupIsLookup(t *testing.T) {
	var c Cache
	type ask struct {
		image   string
		entries []Entry
	}
	var asks []ask
	for _, v := range vectors {
		asks = append(asks, ask{v.image, withCredentials("a", v.keys...)}, ask{v.image, withCredentials("b", v.keys...)})
	}
	for _, tt := range []struct {
		name string
		asks []ask
	}{
		{"the vectors, each in two namespaces", asks},
		{"same keys, several images", []ask{
			{"reg.example.com/team/app:1", withCredentials("a", "reg.example.com", "reg.example.com:5000")},
			{"reg.example.com:5000/team/app:1", withCredentials("b", "reg.example.com", "reg.example.com:5000")},
			{"reg.example.com/team/app:1", withCredentials("c", "reg.example.com", "reg.example.com:5000")},
		}},
		{"keys split differently", []ask{
			{"reg.example.com/app", withCredentials("a", "reg.example.com", "quay.io")},
			{"reg.example.com/app", withCredentials("b", "reg.example.comquay.io")},
			{"reg.example.com/app", withCredentials("c", "reg.example.com", "", "quay.io")},
			{"reg.example.com/app", withCredentials("d", "quay.io", "reg.example.com")},
			{"reg.example.com/app", withCredentials("e")},
		}},
		{"an image that does not parse", []ask{
			{"reg.example.com/App", withCredentials("a", "reg.example.com")},
			{"reg.example.com/App", withCredentials("b", "reg.example.com")},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, a := range tt.asks {
				want, wantErr := Lookup(a.image, a.entries)
				got, err := c.Lookup(a.image, a.entries)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Errorf("Cache.Lookup(%q) error = %v, Lookup's %v", a.image, err, wantErr)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Cache.Lookup(%q) in %v differs from Lookup (-Lookup +Cache.Lookup):\n%s", a.image, a.entries, diff)
				}
			}
		})
	}
}

func FuzzCacheLookup(f *testing.F) {
	addVectorSeeds(f)
	f.Add("reg.example.com/app", "reg.example.com", "5:quay.io")
	f.Fuzz(func(t *testing.T, image, key1, key2 string) {
		var c Cache
		for _, entries := range [][]Entry{
			withCredentials("a", key1, key2),
			withCredentials("b", key1, key2),
			withCredentials("c", key1+key2),
			withCredentials("d", key2, key1),
			withCredentials("e", key1),
		} {
			want, wantErr := Lookup(image, entries)
			got, err := c.Lookup(image, entries)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("Cache.Lookup(%q) error = %v, Lookup's %v", image, err, wantErr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Cache.Lookup(%q) in %v differs from Lookup (-Lookup +Cache.Lookup):\n%s", image, entries, diff)
			}
		}
	})
}
