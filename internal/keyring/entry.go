package keyring

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
)

// invalidUserInfo stands for user information the kubelet cannot parse: it keeps the
// key unparsable, as the kubelet finds it ("%" starts no valid escape).
const invalidUserInfo = dockercfg.Redacted + "%"

// NewEntry is an entry for a key as written in a source. User information in the key
// (https://user:password@host) is replaced here, once, so that nothing built from an
// Entry can show it: Key holds the redacted key. The kubelet drops user information
// when it normalizes a key, so the redacted key normalizes, matches and fails to parse
// as the key as written does.
func NewEntry(key, username, password, source string) Entry {
	shown := dockercfg.DisplayKey(key)
	if shown != key {
		_, errWritten := NormalizeKey(key)
		if _, errShown := NormalizeKey(shown); errWritten != nil && errShown == nil {
			shown = dockercfg.RedactKey(key, invalidUserInfo)
		}
	}
	return Entry{Key: shown, Username: username, Password: password, Source: source}
}

// FromConfig returns the entries of a parsed docker config, from source ("ns/name" of
// a Secret, or a file path).
func FromConfig(cfg *dockercfg.Config, source string) []Entry {
	entries := make([]Entry, 0, len(cfg.Entries))
	for _, e := range cfg.Entries {
		entries = append(entries, NewEntry(e.Key, e.Username, e.Password, source))
	}
	return entries
}

// FromSecret reads a pull Secret as the kubelet does and returns its entries, with
// the Secret's "namespace/name" as their source. Its errors are dockercfg.FromSecret's:
// ErrWrongType or ErrNoData for a Secret the kubelet skips, a *dockercfg.ParseError
// for one it cannot parse (and then fails the pod's whole keyring).
func FromSecret(s *corev1.Secret) ([]Entry, *dockercfg.Config, error) {
	cfg, err := dockercfg.FromSecret(s)
	if err != nil {
		return nil, nil, err
	}
	return FromConfig(cfg, s.Namespace+"/"+s.Name), cfg, nil
}
