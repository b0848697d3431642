// Package verify asks a registry, the way a container runtime does, whether an image
// can be pulled with a credential: GET /v2/ (the ping), then Basic auth or a Bearer
// token for repository:<name>:pull from the realm the registry names, then a manifest
// HEAD with the manifest media types. It returns one typed Outcome with the evidence,
// and optionally what an anonymous pull would get.
//
// The distinctions drawn follow the distribution spec and real token servers: bad
// credentials fail at the token server (or at /v2/ for Basic auth); a valid user
// without the pull right gets a token the registry then refuses, which registries
// also answer for a repository that does not exist, so AccessDenied is ambiguous by
// nature; a missing tag is 404 MANIFEST_UNKNOWN. Every request has a timeout. HTTPS is
// used unless the registry is on a loopback address or the caller allows plain HTTP,
// as containerd does. Credentials and tokens never appear in a Result or an error.
package verify
