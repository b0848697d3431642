package dockercfg

import (
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Errors of FromSecret for Secrets the kubelet skips without a word.
var (
	ErrWrongType = errors.New("not a pull Secret type")
	ErrNoData    = errors.New("no docker config in the Secret")
	ErrNoAuths   = errors.New(`no "auths" object`)
)

// FromSecret reads a pull Secret as the kubelet does. Secrets the kubelet skips
// (another type, no or empty data under the type's key) give ErrWrongType or ErrNoData;
// data the kubelet cannot parse gives a *ParseError, and then the kubelet fails the
// whole pod's keyring. A .dockerconfigjson without "auths" parses (the API server
// allows it) but yields no entry: Config.HasAuths is false, and Problems says so.
func FromSecret(s *corev1.Secret) (*Config, error) {
	name := s.Namespace + "/" + s.Name
	key, format := corev1.DockerConfigJsonKey, ConfigJSON
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
	case corev1.SecretTypeDockercfg:
		key, format = corev1.DockerConfigKey, Dockercfg
	default:
		hint := "recreate it with type kubernetes.io/dockerconfigjson"
		if _, ok := s.Data[corev1.DockerConfigJsonKey]; ok {
			hint = "it holds .dockerconfigjson but the kubelet ignores it unless the type is kubernetes.io/dockerconfigjson"
		}
		return nil, fmt.Errorf("secret %s has type %q: %w: %s", name, typeName(s.Type), ErrWrongType, hint)
	}
	data := s.Data[key]
	if len(data) == 0 {
		return nil, fmt.Errorf("secret %s: %w: type %s needs key %s", name, ErrNoData, s.Type, key)
	}
	cfg, err := Parse(data, format)
	if err != nil {
		return nil, fmt.Errorf("secret %s key %s: %w", name, key, err)
	}
	return cfg, nil
}

// UnderRightType reads what a Secret the kubelet skips for its type would give under
// the type its data is for: its .dockerconfigjson, else its .dockercfg. A Secret with
// neither gives ErrNoData.
func UnderRightType(s *corev1.Secret) (*Config, error) {
	if data, ok := s.Data[corev1.DockerConfigJsonKey]; ok {
		return Parse(data, ConfigJSON)
	}
	if data, ok := s.Data[corev1.DockerConfigKey]; ok {
		return Parse(data, Dockercfg)
	}
	return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, ErrNoData)
}

func typeName(t corev1.SecretType) string {
	if t == "" {
		return string(corev1.SecretTypeOpaque)
	}
	return string(t)
}

// Problems lists what in a config will not work as its author likely meant, one
// sentence each: entries the kubelet reads as empty, fields it ignores, auth that
// disagrees with username and password, a missing "auths".
func (c *Config) Problems() []string {
	var p []string
	if c.Format == ConfigJSON && !c.HasAuths {
		p = append(p, `no "auths" object: the kubelet finds no credentials (a bare registry map belongs in type kubernetes.io/dockercfg, or wrap it in {"auths": ...})`)
	}
	if c.CredsStore != "" || len(c.CredHelpers) > 0 {
		p = append(p, "credsStore/credHelpers name a credential helper on the machine that wrote this file: the kubelet cannot run it, so those registries get no credentials")
	}
	for _, e := range c.Entries {
		switch {
		case e.Empty() && (e.IdentityToken || e.RegistryToken):
			p = append(p, fmt.Sprintf("entry %q has only an identity or registry token, which the kubelet ignores: the pull goes without credentials", DisplayKey(e.Key)))
		case e.Empty():
			p = append(p, fmt.Sprintf("entry %q is empty: the kubelet pulls anonymously from that registry and skips node credentials too", DisplayKey(e.Key)))
		case e.Password == "":
			p = append(p, fmt.Sprintf("entry %q has a username but no password", DisplayKey(e.Key)))
		}
		if e.AuthDisagrees {
			p = append(p, fmt.Sprintf("entry %q: auth and username/password name different credentials; the kubelet uses auth", DisplayKey(e.Key)))
		}
	}
	return p
}

// Server is one registry's credential for a new config.
type Server struct {
	Key string
	Credential
}

// Marshal writes a .dockerconfigjson with an auth field per entry, as `docker login`
// and `kubectl create secret docker-registry` do.
func Marshal(servers ...Server) ([]byte, error) {
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email,omitempty"`
		Auth     string `json:"auth"`
	}
	auths := map[string]entry{}
	for _, s := range servers {
		auths[s.Key] = entry{Username: s.Username, Password: s.Password, Email: s.Email, Auth: EncodeAuth(s.Username, s.Password)}
	}
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		return nil, fmt.Errorf("encode docker config: %w", err)
	}
	return b, nil
}
