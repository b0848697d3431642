// Package registry runs real distribution registries (github.com/distribution/distribution/v3,
// in-process, in-memory storage) on loopback for tests, the local cluster and the demo.
//
// A registry is open (anonymous pull and push), protected by htpasswd Basic auth, or
// protected by Bearer tokens from a token server on the same port that grants pull
// rights per repository, so that "valid user, no access to this repository" is real.
// Any of them can serve TLS with a certificate from a CA of its own, which a client
// that does not load CAFile rejects as signed by an unknown authority.
package registry
