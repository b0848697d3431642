// Package verify asks a registry, the way a container runtime does, whether an image
// can be pulled with a credential: GET /v2/ (the ping), then Basic auth or a Bearer
// token for repository:<name>:pull from the realm the registry names (asked for as
// containerd asks: an OAuth2 POST with the password grant, then a GET with Basic
// auth), then a manifest HEAD with the manifest media types. It returns one typed
// Outcome with the evidence, and optionally what an anonymous pull would get.
//
// The distinctions drawn follow the distribution spec and real token servers: bad
// credentials fail at the token server (or at /v2/ for Basic auth); a valid user
// without the pull right gets a token the registry then refuses, which registries
// also answer for a repository that does not exist, so AccessDenied is ambiguous by
// nature; a missing tag is 404 MANIFEST_UNKNOWN. Every request has a timeout. HTTPS is
// used unless the registry is on a loopback address or the caller allows plain HTTP,
// as containerd does; a password never goes to a plain-HTTP token realm of an HTTPS
// registry nor across an HTTPS-to-HTTP redirect. With a Hosts memory, a host that did
// not answer is asked once per run. Credentials and tokens never appear in a Result
// or an error.
//
// go-containerregistry's transport reads the registries' error bodies
// (transport.Error); its Ping and token exchange are not used: Ping races HTTPS and
// plain HTTP and folds their failures into one error, where the outcomes here need
// each stage's own (TLS problem, plain-HTTP registry, refused realm); its exchange
// fetches a token with a GET only (its password-grant POST is unreachable), and it
// refuses token realms on private or loopback addresses other than the registry's
// own host and port, which on-premises registries use.
package verify
