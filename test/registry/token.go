package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	tokenIssuer  = "regcred-test-token-server"
	tokenService = "regcred-test-registry"
	tokenPath    = "/token"
)

// tokenServer implements the token endpoint of the distribution token auth spec:
// Basic credentials in, a signed JWT out that grants the requested actions the ACL
// allows. Bad credentials get 401; a valid user asking for a repository it may not
// read gets a token without that right, as real token servers do.
type tokenServer struct {
	users  map[string]string   // user -> password
	acl    map[string][]string // user -> repository patterns (path.Match) it may pull
	public []string            // repository patterns anyone may pull
	admin  string              // user that may push and pull everything
	key    *ecdsa.PrivateKey
	keyID  string
	signer jose.Signer
}

func newTokenServer(users map[string]string, acl map[string][]string, public []string, admin string) (*tokenServer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate token signing key: %w", err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generate token key id: %w", err)
	}
	ts := &tokenServer{users: users, acl: acl, public: public, admin: admin, key: key, keyID: hex.EncodeToString(id)}
	ts.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: ts.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("make token signer: %w", err)
	}
	return ts, nil
}

// jwks is the key set the registry trusts, in JSON.
func (ts *tokenServer) jwks() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ts.key.PublicKey, KeyID: ts.keyID, Algorithm: string(jose.ES256), Use: "sig"}}}
	return json.Marshal(set)
}

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type claims struct {
	jwt.Claims
	Access []access `json:"access"`
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	subject := ""
	scopes := r.URL.Query()["scope"]
	user, pass, ok := r.BasicAuth()
	if r.Method == http.MethodPost {
		// The OAuth2 form containerd tries first: grant_type=password with the
		// credentials and space-separated scopes in the body.
		if err := r.ParseForm(); err != nil {
			http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"bad form"}]}`, http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("grant_type") != "password" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		user, pass, ok = r.PostForm.Get("username"), r.PostForm.Get("password"), true
		scopes = strings.Fields(r.PostForm.Get("scope"))
	}
	if ok {
		want, known := ts.users[user]
		if !known || want != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="regcred-test-token-server"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}`, http.StatusUnauthorized)
			return
		}
		subject = user
	}
	var granted []access
	for _, scope := range scopes {
		if a, ok := ts.grant(subject, scope); ok {
			granted = append(granted, a)
		}
	}
	now := time.Now()
	c := claims{
		Claims: jwt.Claims{
			Issuer:    tokenIssuer,
			Subject:   subject,
			Audience:  jwt.Audience{tokenService},
			Expiry:    jwt.NewNumericDate(now.Add(5 * time.Minute)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        fmt.Sprintf("%d", now.UnixNano()),
		},
		Access: granted,
	}
	if granted == nil {
		c.Access = []access{}
	}
	token, err := jwt.Signed(ts.signer).Claims(c).Serialize()
	if err != nil {
		http.Error(w, "sign token: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": token, "access_token": token, "expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339),
	})
}

// grant returns the part of one scope ("repository:NAME:ACTIONS") the subject may have.
func (ts *tokenServer) grant(subject, scope string) (access, bool) {
	typ, rest, ok := strings.Cut(scope, ":")
	if !ok || typ != "repository" {
		return access{}, false
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return access{}, false
	}
	name, actions := rest[:i], strings.Split(rest[i+1:], ",")
	var allowed []string
	for _, a := range actions {
		switch {
		case subject != "" && subject == ts.admin:
			allowed = append(allowed, a)
		case a == "pull" && (matchAny(ts.public, name) || (subject != "" && matchAny(ts.acl[subject], name))):
			allowed = append(allowed, a)
		}
	}
	if len(allowed) == 0 {
		return access{}, false
	}
	slices.Sort(allowed)
	return access{Type: "repository", Name: name, Actions: slices.Compact(allowed)}, true
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
