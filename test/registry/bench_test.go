package registry_test

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/regcred/regcred/test/registry"
)

// BenchmarkTokenPull measures what a runtime pays per image at a token registry on
// loopback: ping, token exchange and manifest HEAD, on a fresh connection each time.
// It is the floor under every live registry check regcred makes.
func BenchmarkTokenPull(b *testing.B) {
	r, err := registry.Start(b.Context(), registry.Options{
		Auth:  registry.AuthToken,
		Users: map[string]string{"alice": "s3cret"},
		Pull:  map[string][]string{"alice": {"team/*"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	push(b, r, "team/app:v1")
	alice := &authn.Basic{Username: "alice", Password: "s3cret"}
	b.ResetTimer()
	for b.Loop() {
		if err := head(b, r, "team/app:v1", alice, false); err != nil {
			b.Fatal(err)
		}
	}
}
