package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads an image as repository:tag (for example "team/app:v1") with the
// fixture's own account and returns its reference by digest.
func (r *Registry) Push(ctx context.Context, repoTag string, img v1.Image) (name.Digest, error) {
	var opts []name.Option
	if r.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.NewTag(r.Ref(repoTag), opts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", repoTag, err)
	}
	auth := authn.Anonymous
	if r.adminUser != "" {
		auth = &authn.Basic{Username: r.adminUser, Password: r.adminPass}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if pool := r.CertPool(); pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(tr)); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return ref.Context().Digest(d.String()), nil
}
