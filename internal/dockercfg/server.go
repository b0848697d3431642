package dockercfg

import (
	"fmt"
	"net/url"
	"strings"
)

// DockerHubKey is the key regcred writes for Docker Hub: the one `docker login` and
// `kubectl create secret docker-registry` write, which the kubelet matches for every
// Docker Hub image (through its index.docker.io fallback).
const DockerHubKey = "https://index.docker.io/v1/"

var dockerHubNames = map[string]bool{
	"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true, "registry.hub.docker.com": true,
}

// KeyFor turns a registry as a user names it (reg.example.com, https://reg.example.com/,
// reg.example.com:5000/team, docker.io) into the key to write, or explains why it
// cannot be one the kubelet matches.
func KeyFor(server string) (string, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return "", fmt.Errorf("the registry is empty: name its host, e.g. reg.example.com or reg.example.com:5000")
	}
	rest := s
	for _, p := range []string{"https://", "http://"} {
		if len(rest) >= len(p) && strings.EqualFold(rest[:len(p)], p) {
			rest = rest[len(p):]
			break
		}
	}
	u, err := url.Parse("https://" + rest)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("registry %q is not a host[:port][/path]: write it like reg.example.com:5000", server)
	}
	if u.Port() != "" {
		if _, err := fmt.Sscanf(u.Port(), "%d", new(int)); err != nil {
			return "", fmt.Errorf("registry %q has port %q: a port is a number", server, u.Port())
		}
	}
	if u.Host != strings.ToLower(u.Host) {
		return "", fmt.Errorf("registry %q has capital letters: the kubelet compares hosts case-sensitively and image references use lower case, so write %s", server, strings.ToLower(u.Host)+u.Path)
	}
	path := strings.TrimSuffix(u.Path, "/")
	for _, v := range []string{"/v1", "/v2"} {
		if path == v || strings.HasPrefix(path, v+"/") {
			path = strings.TrimPrefix(path, v)
		}
	}
	if last := path[strings.LastIndex(path, "/")+1:]; strings.ContainsAny(last, ":@") {
		return "", fmt.Errorf("registry %q names a tag or digest: a key names a registry or a repository path, e.g. %s", server, u.Host+strings.TrimSuffix(path[:strings.LastIndex(path, "/")+1], "/"))
	}
	if dockerHubNames[u.Hostname()] && u.Port() == "" {
		if path == "" {
			return DockerHubKey, nil
		}
		// Only docker.io with a path matches Docker Hub images by prefix
		// (index.docker.io/x and registry-1.docker.io/x match nothing).
		return "docker.io" + path, nil
	}
	return u.Host + path, nil
}

// LoginHost returns the host to talk to for a key: registry-1.docker.io for Docker Hub.
func LoginHost(key string) string {
	if key == DockerHubKey {
		return "registry-1.docker.io"
	}
	h := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	if dockerHubNames[h] {
		return "registry-1.docker.io"
	}
	return h
}
