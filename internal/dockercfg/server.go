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

// DockerHubAPIHost is the host that pulls from Docker Hub go to.
const DockerHubAPIHost = "registry-1.docker.io"

// IsDockerHub reports whether the kubelet takes a registry host (without port) for
// Docker Hub: the image domain docker.io and its legacy name index.docker.io, which
// image references normalize to docker.io and whose keys are the Docker Hub fallback.
// No other name is Docker Hub to the kubelet: an image written as
// registry-1.docker.io/x is on a registry of that name, which only a key for that name
// matches. This is the one list of Docker Hub names.
func IsDockerHub(host string) bool { return host == "docker.io" || host == "index.docker.io" }

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
	if IsDockerHub(u.Hostname()) && u.Port() == "" {
		if path == "" {
			return DockerHubKey, nil
		}
		// Only docker.io with a path matches Docker Hub images by prefix
		// (index.docker.io/x matches nothing).
		return "docker.io" + path, nil
	}
	return u.Host + path, nil
}

// LoginHost returns the host to talk to for a key: DockerHubAPIHost for Docker Hub.
func LoginHost(key string) string {
	if key == DockerHubKey {
		return DockerHubAPIHost
	}
	h := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	if IsDockerHub(h) {
		return DockerHubAPIHost
	}
	return h
}
