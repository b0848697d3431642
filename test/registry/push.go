package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

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
	var rt http.RoundTripper = tr
	if r.tokenRealm != "" {
		// The fixture pushes through its own token server, which go-containerregistry
		// accepts (a realm on another loopback port it refuses).
		rt = ownRealm{inner: tr, realm: r.tokenRealm, own: r.Scheme + "://" + r.Host + tokenPath}
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(rt)); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return ref.Context().Digest(d.String()), nil
}

// ownRealm names the registry's own token endpoint in the challenges of its answers.
type ownRealm struct {
	inner      http.RoundTripper
	realm, own string
}

func (o ownRealm) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if chs := resp.Header.Values("WWW-Authenticate"); len(chs) > 0 {
		resp.Header.Del("WWW-Authenticate")
		for _, ch := range chs {
			resp.Header.Add("WWW-Authenticate", strings.ReplaceAll(ch, `"`+o.realm+`"`, `"`+o.own+`"`))
		}
	}
	return resp, nil
}
