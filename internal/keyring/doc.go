// Package keyring answers, offline, which pull credentials the kubelet (Kubernetes
// v1.37) would try for an image, in which order, and why the other keys that look
// meant for the image do not apply.
//
// # Keys
//
// Every credential entry is stored under a key, the registry name written in a
// Secret's .dockerconfigjson "auths" map, a .dockercfg map or a docker config file.
// The kubelet normalizes the key once, when it builds its keyring (NormalizeKey):
// "https://" is prepended unless the key already starts with "https://" or "http://"
// in lower case, the result is parsed as a URL, a leading "/v1/" or "/v2/" is cut from
// the path, and what remains is the host (with port) and the path, if any. So
// "https://index.docker.io/v1/" becomes "index.docker.io", "https://reg.example.com/v2/team"
// becomes "reg.example.com/team", and "HTTPS://reg.example.com" becomes the useless
// "HTTPS://reg.example.com" whose host is "HTTPS:". A key that does not parse as a URL
// ("reg.example.com:abc") is logged and dropped.
//
// # Images
//
// The image is reduced to its normalized repository with the reference grammar of
// github.com/distribution/reference, as the kubelet does: "nginx:1.27" becomes
// "docker.io/library/nginx", "index.docker.io/x" becomes "docker.io/x", tag and digest
// are dropped. A first path component with a "." or ":", "localhost", or one with
// capital letters is the registry host: "MyOrg/app" is the repository "app" on a
// registry called "MyOrg".
//
// # Matching and order
//
// A normalized key matches the repository when both, read as schemeless URLs, have
// string-equal ports (no port is not 443), the same number of dot-separated host
// labels, each key label matching its image label as a case-sensitive glob ("*" covers
// one whole label or part of one, never a dot-separated run of labels; "?" and "[" do
// not work, as URL parsing reads them as a query and an IPv6 literal), and a key path
// that is a plain string prefix of the image path ("/team" matches "/teamx/app"). The
// kubelet tries the matching keys in reverse lexicographic order of the normalized key,
// which puts longer paths before their prefixes, and all entries under one normalized
// key in the order they were added: Secret by Secret in pod order.
//
// Only when no key matches, and the repository is on Docker Hub by the kubelet's rule
// (docker.io, or a first component without "." or ":", which includes "MyOrg" and
// "localhost"), it falls back to the entries stored under exactly "index.docker.io".
// A matching "docker.io/library" key therefore hides a "https://index.docker.io/v1/"
// key for "nginx".
//
// Lookup models one kubelet keyring: all pull Secrets of a pod, or one node's docker
// config. The kubelet looks up the pod's Secrets first and the node's keyring after,
// each with its own fallback, and tries the union in that order.
//
// # Near misses
//
// The kubelet has no notion of a key that almost matches; a diagnosis does. For every
// entry it does not try whose key looks meant for the image (the same host in any
// letter case, a parent domain or subdomain, a host pattern that covers it but for
// the label count, a Docker Hub name for a Docker Hub image, a key the kubelet cannot
// parse but whose host is related), Lookup returns a NearMiss with a one-line reason:
// a port written differently, letter case, a capitalised scheme, a path that is not a
// prefix, a tag in the key, a Docker Hub alias the kubelet does not know, a Docker Hub
// key hidden by another match. Keys for unrelated registries are left out.
//
// Passwords are never printed: Entry and Match redact them in String, GoString, every
// fmt verb and LogValue, and Entry.Password is left out of JSON.
package keyring
