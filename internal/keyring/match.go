package keyring

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// defaultRegistryHost is the only key the kubelet falls back to for Docker Hub images.
const defaultRegistryHost = "index.docker.io"

// The functions in this file are the kubelet's matching rules, ported line for line
// from k8s.io/kubernetes/pkg/credentialprovider/keyring.go (v1.37): keep them that way.

// parseSchemeless is the kubelet's ParseSchemelessURL.
func parseSchemeless(schemeless string) (*url.URL, error) {
	parsed, err := url.Parse("https://" + schemeless)
	if err != nil {
		return nil, err
	}
	parsed.Scheme = ""
	return parsed, nil
}

// splitURL is the kubelet's SplitURL: the host's dot-separated labels and the port as
// written ("" when there is none or it cannot be split off).
func splitURL(u *url.URL) (labels []string, port string) {
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	return strings.Split(host, "."), port
}

// urlsMatchStr is the kubelet's URLsMatchStr: whether the normalized key glob matches
// the normalized repository target.
func urlsMatchStr(glob, target string) (bool, error) {
	globURL, err := parseSchemeless(glob)
	if err != nil {
		return false, err
	}
	targetURL, err := parseSchemeless(target)
	if err != nil {
		return false, err
	}
	return urlsMatch(globURL, targetURL)
}

// urlsMatch is the kubelet's URLsMatch: ports string-equal, the same number of host
// labels, the key's path a string prefix of the target's, each label a glob match.
func urlsMatch(globURL, targetURL *url.URL) (bool, error) {
	globLabels, globPort := splitURL(globURL)
	targetLabels, targetPort := splitURL(targetURL)
	if globPort != targetPort {
		return false, nil
	}
	if len(globLabels) != len(targetLabels) {
		return false, nil
	}
	if !strings.HasPrefix(targetURL.Path, globURL.Path) {
		return false, nil
	}
	for i, globLabel := range globLabels {
		matched, err := filepath.Match(globLabel, targetLabels[i])
		if err != nil {
			return false, err
		}
		if !matched {
			return false, nil
		}
	}
	return true, nil
}

// isDefaultRegistryMatch is the kubelet's isDefaultRegistryMatch, called with the
// normalized repository: whether the Docker Hub fallback may apply to it.
func isDefaultRegistryMatch(image string) bool {
	parts := strings.SplitN(image, "/", 2)
	if len(parts[0]) == 0 {
		return false
	}
	if len(parts) == 1 {
		return true
	}
	if parts[0] == "docker.io" || parts[0] == "index.docker.io" {
		return true
	}
	return !strings.ContainsAny(parts[0], ".:")
}
