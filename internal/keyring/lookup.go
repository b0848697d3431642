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
	return findKeys(image, entries).result(image, entries)
}

// found is what Lookup finds, by entry index: it depends on the image and the
// entries' keys alone, not on their credentials or sources.
type found struct {
	repository string
	matches    []candidate
	nearMisses []nearMiss
	err        error
}

// nearMiss is a near miss by entry index.
type nearMiss struct {
	entry  int
	reason string
}

// findKeys reads the image and the entries' keys the kubelet's way.
func findKeys(image string, entries []Entry) found {
	named, err := ParseImage(image)
	if err != nil {
		return found{err: err}
	}
	f := found{repository: named.Name()}
	kr := newKeyring(entries)
	tried := make([]bool, len(entries))
	f.matches = kr.lookup(f.repository)
	for _, c := range f.matches {
		tried[c.entry] = true
	}
	t, ok := newTarget(named)
	if !ok {
		return f
	}
	firstMatch := ""
	if len(f.matches) > 0 && !f.matches[0].fallback {
		firstMatch = entries[f.matches[0].entry].Key
	}
	for i, e := range entries {
		if tried[i] {
			continue
		}
		if reason, related := diagnose(e.Key, t, firstMatch); related {
			f.nearMisses = append(f.nearMisses, nearMiss{entry: i, reason: reason})
		}
	}
	return f
}

// result is the Result of the entries, whose keys are those f was found for.
func (f found) result(image string, entries []Entry) (Result, error) {
	res := Result{Image: image, Repository: f.repository, Matches: make([]Match, 0, len(f.matches)), NearMisses: make([]NearMiss, 0, len(f.nearMisses))}
	for _, c := range f.matches {
		res.Matches = append(res.Matches, Match{Entry: entries[c.entry], NormalizedKey: c.key, Fallback: c.fallback})
	}
	for _, n := range f.nearMisses {
		e := entries[n.entry]
		res.NearMisses = append(res.NearMisses, NearMiss{Key: e.Key, Source: e.Source, Reason: n.reason})
	}
	return res, f.err
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
