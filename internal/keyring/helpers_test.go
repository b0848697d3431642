package keyring

import "fmt"

// entriesFor makes one entry per key, with a distinct username, password and source.
func entriesFor(keys ...string) []Entry {
	entries := make([]Entry, len(keys))
	for i, key := range keys {
		entries[i] = Entry{
			Key:      key,
			Username: fmt.Sprintf("user%d", i),
			Password: fmt.Sprintf("s3cret-password-%d", i),
			Source:   fmt.Sprintf("ns/secret%d", i),
		}
	}
	return entries
}

// matchedKeys returns the written keys of the matches, in order.
func matchedKeys(matches []Match) []string {
	keys := make([]string, len(matches))
	for i, m := range matches {
		keys[i] = m.Key
	}
	return keys
}

// normalizedKeys returns the normalized keys of the matches, in order.
func normalizedKeys(matches []Match) []string {
	keys := make([]string, len(matches))
	for i, m := range matches {
		keys[i] = m.NormalizedKey
	}
	return keys
}

// sources returns the sources of the matches, in order.
func sources(matches []Match) []string {
	out := make([]string, len(matches))
	for i, m := range matches {
		out[i] = m.Source
	}
	return out
}
