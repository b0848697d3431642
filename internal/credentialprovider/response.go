package credentialprovider

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	credv1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1"
	kjson "sigs.k8s.io/json"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// The protocol's version and kinds.
const (
	APIVersion   = "credentialprovider.kubelet.k8s.io/v1"
	requestKind  = "CredentialProviderRequest"
	responseKind = "CredentialProviderResponse"
)

// ErrResponse is wrapped by every error about a response the kubelet would refuse or
// that gives no credential for the image.
var ErrResponse = errors.New("unusable credential provider response")

// Credential is what a plugin returned, ready to copy.
type Credential struct {
	// DockerConfigJSON is {"auths": {...}} with one entry per key of the response,
	// the keys as the plugin wrote them.
	DockerConfigJSON []byte
	// Keys are the response's registry keys, sorted.
	Keys []string
	// CacheDuration is the response's cacheDuration; zero when it had none or zero.
	CacheDuration time.Duration
	// Passwords are the response's passwords, to redact from later error text.
	Passwords []string
}

// ParseResponse reads a plugin's stdout as the kubelet reads it and checks that it
// is one the kubelet would accept: apiVersion credentialprovider.kubelet.k8s.io/v1,
// kind CredentialProviderResponse, a cacheKeyType of Image, Registry or Global, no
// negative cacheDuration, at least one auth entry, every key one the kubelet can
// parse and with a username or password, and at least one key the kubelet would use
// for image. Errors wrap ErrResponse and never quote a credential.
func ParseResponse(data []byte, image string) (*Credential, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, fmt.Errorf("%w: the plugin wrote nothing on stdout", ErrResponse)
	}
	var resp credv1.CredentialProviderResponse
	// Field names match case-sensitively, as in the kubelet's decoder.
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &resp); err != nil {
		return nil, fmt.Errorf("%w: stdout is not a JSON CredentialProviderResponse: %s", ErrResponse, jsonProblem(err))
	}
	if resp.APIVersion != APIVersion || resp.Kind != responseKind {
		return nil, fmt.Errorf("%w: apiVersion %q and kind %q, want %s and %s", ErrResponse, resp.APIVersion, resp.Kind, APIVersion, responseKind)
	}
	switch resp.CacheKeyType {
	case credv1.ImagePluginCacheKeyType, credv1.RegistryPluginCacheKeyType, credv1.GlobalPluginCacheKeyType:
	default:
		return nil, fmt.Errorf("%w: cacheKeyType %q, want Image, Registry or Global", ErrResponse, resp.CacheKeyType)
	}
	c := &Credential{}
	if resp.CacheDuration != nil {
		if resp.CacheDuration.Duration < 0 {
			return nil, fmt.Errorf("%w: cacheDuration %s is negative", ErrResponse, resp.CacheDuration.Duration)
		}
		c.CacheDuration = resp.CacheDuration.Duration
	}
	if len(resp.Auth) == 0 {
		return nil, fmt.Errorf("%w: no auth entry, so no credential for %s", ErrResponse, image)
	}
	servers := make([]dockercfg.Server, 0, len(resp.Auth))
	entries := make([]keyring.Entry, 0, len(resp.Auth))
	for key, a := range resp.Auth {
		shown := dockercfg.DisplayKey(key)
		if _, err := keyring.NormalizeKey(key); err != nil {
			return nil, fmt.Errorf("%w: auth key %q is not one the kubelet can parse, it would drop it", ErrResponse, shown)
		}
		if a.Username == "" && a.Password == "" {
			return nil, fmt.Errorf("%w: auth entry %q has neither username nor password", ErrResponse, shown)
		}
		servers = append(servers, dockercfg.Server{Key: key, Credential: dockercfg.Credential{Username: a.Username, Password: a.Password}})
		entries = append(entries, keyring.Entry{Key: key, Username: a.Username, Password: a.Password})
		c.Keys = append(c.Keys, key)
		if a.Password != "" {
			c.Passwords = append(c.Passwords, a.Password)
		}
	}
	sort.Strings(c.Keys)
	res, err := keyring.Lookup(image, entries)
	if err != nil {
		return nil, fmt.Errorf("%w: image %q: %w", ErrResponse, image, err)
	}
	if len(res.Matches) == 0 {
		shown := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			shown[i] = dockercfg.DisplayKey(k)
		}
		return nil, fmt.Errorf("%w: the kubelet would use none of the keys %s for image %s", ErrResponse, strings.Join(shown, ", "), image)
	}
	if c.DockerConfigJSON, err = dockercfg.Marshal(servers...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrResponse, err)
	}
	return c, nil
}

// jsonProblem describes a decoding error without the data it was about: a syntax
// error by its offset alone (its message quotes a character of the input, which may be
// part of a password), anything else by encoding/json's words, which name fields and
// types, never values.
func jsonProblem(err error) string {
	if ok, off := kjson.SyntaxErrorOffset(err); ok {
		return fmt.Sprintf("invalid JSON at byte %d", off)
	}
	return err.Error()
}

// responsePasswords returns the passwords a plugin's output holds, read as
// ParseResponse reads them, so that they can be redacted from what else the plugin
// wrote when its response is refused. Output that is not JSON gives none.
func responsePasswords(data []byte) []string {
	var resp struct {
		Auth map[string]struct {
			Password string `json:"password"`
		} `json:"auth"`
	}
	_ = kjson.UnmarshalCaseSensitivePreserveInts(data, &resp) // what decodes is all there is to redact
	var out []string
	for _, a := range resp.Auth {
		if a.Password != "" {
			out = append(out, a.Password)
		}
	}
	return out
}
