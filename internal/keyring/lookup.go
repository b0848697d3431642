package keyring

import (
	"slices"
	"strings"
)

// Lookup returns what the kubelet would try for image, given entries in source order
// (pod imagePullSecrets order, then entries within a source in any order).
//
// The entries form one kubelet keyring (BasicDockerKeyring): all of a pod's pull
// Secrets, or one node's docker config. The kubelet tries the pod's Secrets first and
// the node's keyring after them, each looked up on its own; to model both, call Lookup
// once per keyring and concatenate the matches.
//
// An image the kubelet cannot parse gives an error wrapping ErrInvalidImage.
func Lookup(image string, entries []Entry) (Result, error) {
	res := Result{Image: image, Matches: []Match{}, NearMisses: []NearMiss{}}
	named, err := ParseImage(image)
	if err != nil {
		return res, err
	}
	res.Repository = named.Name()

	kr := newKeyring(entries)
	tried := make([]bool, len(entries))
	for _, c := range kr.lookup(res.Repository) {
		tried[c.entry] = true
		res.Matches = append(res.Matches, Match{
			Entry:         entries[c.entry],
			NormalizedKey: c.key,
			Fallback:      c.fallback,
		})
	}

	t, ok := newTarget(named)
	if !ok {
		return res, nil
	}
	firstMatch := ""
	if len(res.Matches) > 0 && !res.Matches[0].Fallback {
		firstMatch = res.Matches[0].Key
	}
	for i, e := range entries {
		if tried[i] {
			continue
		}
		if reason, related := diagnose(e.Key, t, firstMatch); related {
			res.NearMisses = append(res.NearMisses, NearMiss{Key: e.Key, Source: e.Source, Reason: reason})
		}
	}
	return res, nil
}

// keyring is the kubelet's BasicDockerKeyring over indexes into the entries.
type keyring struct {
	index []string         // distinct normalized keys, reverse-sorted
	creds map[string][]int // entries under each normalized key, in input order
}

// candidate is one credential the keyring returns: an entry index and its key.
type candidate struct {
	entry    int
	key      string
	fallback bool
}

// newKeyring adds the entries as BasicDockerKeyring.Add does, dropping keys that do
// not parse.
func newKeyring(entries []Entry) *keyring {
	kr := &keyring{creds: make(map[string][]int)}
	for i, e := range entries {
		key, err := NormalizeKey(e.Key)
		if err != nil {
			continue
		}
		if _, seen := kr.creds[key]; !seen {
			kr.index = append(kr.index, key)
		}
		kr.creds[key] = append(kr.creds[key], i)
	}
	// The kubelet sorts the index ascending (sets.String.List) and then reverses it,
	// so that more specific paths come before their prefixes.
	slices.SortFunc(kr.index, func(a, b string) int { return strings.Compare(b, a) })
	return kr
}

// lookup is BasicDockerKeyring.Lookup for a normalized repository.
func (kr *keyring) lookup(repository string) []candidate {
	var ret []candidate
	for _, key := range kr.index {
		if matched, _ := urlsMatchStr(key, repository); matched {
			for _, i := range kr.creds[key] {
				ret = append(ret, candidate{entry: i, key: key})
			}
		}
	}
	if len(ret) > 0 {
		return ret
	}
	if isDefaultRegistryMatch(repository) {
		for _, i := range kr.creds[defaultRegistryHost] {
			ret = append(ret, candidate{entry: i, key: defaultRegistryHost, fallback: true})
		}
	}
	return ret
}
