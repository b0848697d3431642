package keyring

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// keyView is a normalized key split as the kubelet's URLsMatchStr splits it.
type keyView struct {
	normalized string   // as NormalizeKey returns it
	hostPort   string   // URL host, with port
	host       string   // labels joined, without port
	labels     []string // host labels
	port       string
	path       string
}

// diagnose explains why the key, which the kubelet does not try for the image, does
// not match. related is false when the key does not look meant for the image.
// firstMatch is the key of the first credential tried, or "" when none or only the
// Docker Hub fallback was.
func diagnose(key string, t *target, firstMatch string) (reason string, related bool) {
	if !t.related(looseHost(key)) {
		return "", false
	}
	normalized, err := NormalizeKey(key)
	if err != nil {
		return unparsableReason(key, err), true
	}
	if scheme, ok := capitalScheme(key); ok {
		host, _, _ := strings.Cut(normalized, "/")
		return fmt.Sprintf("scheme %q is not recognised (the kubelet strips only lowercase \"https://\" or \"http://\"), so it becomes part of the host %q; write %q",
			scheme, host, strings.ToLower(scheme)+key[len(scheme):]), true
	}
	if c, ok := queryInHost(key); ok {
		return fmt.Sprintf("%q starts a URL query or fragment, so the kubelet cuts this key to %q; only `*` works as a wildcard in keys", c, normalized), true
	}
	u, err := parseSchemeless(normalized)
	if err != nil {
		return fmt.Sprintf("the kubelet normalizes this key to %q, which it then cannot parse for matching, so the key never matches", normalized), true
	}
	labels, port := splitURL(u)
	k := &keyView{
		normalized: normalized,
		hostPort:   u.Host,
		host:       strings.Join(labels, "."),
		labels:     labels,
		port:       port,
		path:       u.Path,
	}
	for _, check := range []func(*keyView, *target, string) string{hubReason, hostReason, portReason, pathReason} {
		if reason := check(k, t, firstMatch); reason != "" {
			return reason, true
		}
	}
	return fmt.Sprintf("the key, normalized to %q, does not match %q", normalized, t.repository), true
}

// unparsableReason explains a key the kubelet drops.
func unparsableReason(key string, err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	reason := "the kubelet cannot parse this key and ignores it: " + err.Error()
	switch host := looseHost(key); {
	case strings.Contains(key, invalidUserInfo+"@"):
		reason = "the kubelet cannot parse this key and ignores it: the user information written into it (shown as " + invalidUserInfo + ") is not valid in a URL; a key names only a registry"
	case strings.TrimSpace(key) != key:
		reason += " (the key has leading or trailing whitespace)"
	case strings.ContainsAny(host, "[]") && strings.Trim(host, "[]0123456789abcdefABCDEF:.") != "":
		reason += " (brackets are read as an IPv6 address; only `*` works as a wildcard in keys)"
	}
	return reason
}

// queryInHost returns the "?" or "#" in the host part of a key, which url.Parse takes
// as the start of a query or fragment, cutting the host short.
func queryInHost(key string) (string, bool) {
	s := key
	for _, scheme := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, scheme)
	}
	host, _, _ := strings.Cut(s, "/")
	if i := strings.IndexAny(host, "?#"); i >= 0 {
		return host[i : i+1], true
	}
	return "", false
}

// capitalScheme returns the scheme of a key that spells "https://" or "http://" in
// other than lower case, which the kubelet does not recognise as a scheme.
func capitalScheme(key string) (string, bool) {
	for _, scheme := range []string{"https://", "http://"} {
		if len(key) >= len(scheme) && strings.EqualFold(key[:len(scheme)], scheme) && key[:len(scheme)] != scheme {
			return key[:len(scheme)], true
		}
	}
	return "", false
}

// hubReason explains Docker Hub keys that do not apply to a Docker Hub image, and
// returns "" for other keys and for docker.io keys (the generic checks explain those).
func hubReason(k *keyView, t *target, firstMatch string) string {
	kh := strings.ToLower(k.host)
	if !isHubAlias(kh) || !t.hub {
		return ""
	}
	switch {
	case k.normalized == defaultRegistryHost && t.fallback && firstMatch != "":
		return fmt.Sprintf("not used because %q matched: the kubelet falls back to the Docker Hub key index.docker.io only when no other key matches", firstMatch)
	case !t.fallback:
		if kh == strings.ToLower(t.host) {
			return ""
		}
		return fmt.Sprintf("the image names the registry %q explicitly, which the kubelet does not treat as Docker Hub: only a key for %q matches it, or write the image as %q",
			t.domain, t.domain, "docker.io"+t.path)
	case t.domain != "docker.io":
		return fmt.Sprintf("the image's first component %q has capitals, so it is parsed as a registry host, not a Docker Hub account; only a key stored under exactly \"index.docker.io\" (such as \"https://index.docker.io/v1/\") applies, through the Docker Hub fallback",
			t.domain)
	case kh == "docker.io":
		return ""
	case kh == defaultRegistryHost && (k.normalized == "index.docker.io/v1" || k.normalized == "index.docker.io/v2"):
		return fmt.Sprintf("without the trailing slash the kubelet keeps %q as a path, so the key normalizes to %q and matches nothing; write \"https://index.docker.io/v1/\" or \"docker.io\"",
			k.path, k.normalized)
	case kh == defaultRegistryHost:
		hint := `write "https://index.docker.io/v1/" or "docker.io"`
		if k.path != "" && k.port == "" {
			hint = fmt.Sprintf("write %q to limit it to that path, or \"https://index.docker.io/v1/\" for all of Docker Hub", "docker.io"+k.path)
		}
		return fmt.Sprintf("the kubelet uses index.docker.io only as the Docker Hub fallback, for a key that normalizes to exactly \"index.docker.io\", and this one normalizes to %q; %s",
			k.normalized, hint)
	case kh == "registry-1.docker.io":
		return "registry-1.docker.io is Docker Hub's API host, but the kubelet compares keys with the image's registry name docker.io; write \"docker.io\" or \"https://index.docker.io/v1/\""
	default:
		return fmt.Sprintf("%q is a Docker Hub name the kubelet does not recognise: it compares keys with docker.io and falls back only to index.docker.io; write \"docker.io\" or \"https://index.docker.io/v1/\"",
			k.host)
	}
}

// hostReason explains a key host that does not match the image host.
func hostReason(k *keyView, t *target, _ string) string {
	if len(k.labels) != len(t.labels) {
		if hasGlob(k.host) {
			return fmt.Sprintf("`*` matches exactly one label: the key host %q has %s but the image host %q has %s",
				k.host, labelCount(len(k.labels)), t.host, labelCount(len(t.labels)))
		}
		return fmt.Sprintf("the key host %q is not the image host %q: the kubelet matches whole hosts, never parent domains or subdomains; write %q",
			k.host, t.host, t.host)
	}
	exact, folded := true, true
	var keyLabel, imageLabel string
	for i, label := range k.labels {
		matched, err := filepath.Match(label, t.labels[i])
		if err != nil {
			return fmt.Sprintf("the key host label %q is not a valid pattern, so the kubelet never matches this key", label)
		}
		if matched {
			continue
		}
		exact = false
		if matched, _ := filepath.Match(strings.ToLower(label), strings.ToLower(t.labels[i])); !matched && folded {
			folded = false
			keyLabel, imageLabel = label, t.labels[i]
		}
	}
	switch {
	case exact:
		return ""
	case folded:
		return fmt.Sprintf("the key host %q differs from the image host %q only in letter case; the kubelet compares hosts case-sensitively", k.host, t.host)
	default:
		return fmt.Sprintf("the key host %q does not match the image host %q: label %q does not match %q", k.host, t.host, keyLabel, imageLabel)
	}
}

// portReason explains a key port that differs from the image's.
func portReason(k *keyView, t *target, _ string) string {
	host, _, err := net.SplitHostPort(k.hostPort)
	if err != nil {
		host = k.hostPort
	}
	switch {
	case k.port == t.port:
		return ""
	case k.port == "":
		return fmt.Sprintf("key has no port but the image is on port %s; write %q", t.port, net.JoinHostPort(host, t.port)+k.path)
	case t.port == "":
		return fmt.Sprintf("key has port %s but the image names no port: the kubelet compares ports as written; write %q", k.port, bracketIPv6(host)+k.path)
	default:
		return fmt.Sprintf("key has port %s but the image is on port %s", k.port, t.port)
	}
}

// pathReason explains a key path that is not a prefix of the image path.
func pathReason(k *keyView, t *target, _ string) string {
	if strings.HasPrefix(t.path, k.path) {
		return ""
	}
	last := k.path[strings.LastIndexByte(k.path, '/')+1:]
	if i := strings.IndexAny(last, ":@"); i >= 0 {
		repo := k.path[:len(k.path)-len(last)+i]
		return fmt.Sprintf("key path %q ends in the tag or digest %q, but keys name a registry or repository, never a tag; write %q",
			k.path, last[i:], k.hostPort+repo)
	}
	reason := fmt.Sprintf("key path %q is not a prefix of the image path %q", k.path, t.path)
	switch {
	case strings.HasPrefix(strings.ToLower(t.path), strings.ToLower(k.path)):
		reason += "; paths compare case-sensitively"
	case t.domain == "docker.io" && strings.HasPrefix(t.path, "/library/") && !strings.HasPrefix(k.path, "/library"):
		reason += fmt.Sprintf("; official images are under /library (%s)", t.repository)
	}
	return reason
}

// bracketIPv6 writes an IPv6 host in brackets, as it appears in a key.
func bracketIPv6(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// labelCount says "1 label" or "n labels".
func labelCount(n int) string {
	if n == 1 {
		return "1 label"
	}
	return fmt.Sprintf("%d labels", n)
}
