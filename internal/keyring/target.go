package keyring

import (
	"net"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"

	"github.com/regcred/regcred/internal/dockercfg"
)

// target is the image as the kubelet matches keys against it, plus what a user would
// consider the same registry.
type target struct {
	repository string   // "docker.io/library/nginx"
	domain     string   // "docker.io", "reg.example.com:5000", "MyOrg"
	host       string   // the domain without port, as SplitURL splits it
	labels     []string // host labels
	port       string   // "" when the image names none
	path       string   // "/library/nginx"
	fallback   bool     // the kubelet's isDefaultRegistryMatch
	hub        bool     // a Docker Hub image to a user's eye (Docker Hub keys are related)
}

// newTarget splits the named image as the kubelet's URLsMatchStr does; ok is false
// in the (so far theoretical) case that the kubelet could not parse it as a URL.
func newTarget(named reference.Named) (*target, bool) {
	repository := named.Name()
	u, err := parseSchemeless(repository)
	if err != nil {
		return nil, false
	}
	labels, port := splitURL(u)
	t := &target{
		repository: repository,
		domain:     reference.Domain(named),
		host:       strings.Join(labels, "."),
		labels:     labels,
		port:       port,
		path:       u.Path,
		fallback:   isDefaultRegistryMatch(repository),
	}
	// Besides docker.io and its aliases, an image whose first component has capitals
	// ("MyOrg/app") is parsed with that component as its registry host yet still gets
	// the Docker Hub fallback; "localhost/app" gets it too but is not meant for Hub.
	t.hub = t.domain == "docker.io" || isHubAlias(strings.ToLower(t.host)) ||
		(t.fallback && t.domain != "localhost")
	return t, true
}

// related reports whether a key whose host is keyHost (as a user wrote it, before the
// kubelet's normalization) looks meant for the image: the same host in any letter
// case, Docker Hub names for a Docker Hub image, a host pattern that would cover the
// image but for the label count, or a parent domain or subdomain of the image host.
// Keys for clearly unrelated registries are not.
func (t *target) related(keyHost string) bool {
	kh, ih := strings.ToLower(keyHost), strings.ToLower(t.host)
	switch {
	case kh == "":
		return false
	case kh == ih:
		return true
	case isHubAlias(kh):
		return t.hub
	case hasGlob(kh):
		if matched, _ := filepath.Match(kh, ih); matched {
			return true
		}
		suffix := literalSuffix(kh)
		return suffix == ih || sameDomain(suffix, ih)
	default:
		return sameDomain(kh, ih)
	}
}

// sameDomain reports whether one host is a subdomain of the other, the shorter
// having at least two labels ("example.com" and "reg.example.com").
func sameDomain(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return strings.Contains(a, ".") && strings.HasSuffix(b, "."+a)
}

// literalSuffix returns the labels of a host pattern after its last label with a
// wildcard: "example.com" for "*.example.com".
func literalSuffix(pattern string) string {
	labels := strings.Split(pattern, ".")
	for i := len(labels) - 1; i >= 0; i-- {
		if hasGlob(labels[i]) {
			return strings.Join(labels[i+1:], ".")
		}
	}
	return pattern
}

// hasGlob reports whether s has a filepath.Match metacharacter.
func hasGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// isHubAlias reports whether a key for the lower-case host looks meant for Docker Hub:
// one of the kubelet's Docker Hub names (dockercfg.IsDockerHub), or another host of
// Docker's domains that people write for it (registry-1.docker.io, hub.docker.com),
// which the kubelet does not take for Docker Hub.
func isHubAlias(host string) bool {
	return dockercfg.IsDockerHub(host) || (!hasGlob(host) && (strings.HasSuffix(host, ".docker.io") ||
		host == "docker.com" || strings.HasSuffix(host, ".docker.com")))
}

// looseHost guesses the host a key is meant for, forgiving what the kubelet does not:
// any scheme in any case, surrounding whitespace, user information, a bad port.
func looseHost(key string) string {
	s := strings.TrimSpace(key)
	if i := strings.Index(s, "://"); i >= 0 && !strings.ContainsAny(s[:i], "/.") {
		s = s[i+len("://"):]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.Count(s, ":") == 1 {
		return s[:i]
	}
	return s
}
