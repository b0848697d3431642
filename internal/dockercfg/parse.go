package dockercfg

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Format is the shape of a docker config.
type Format int

const (
	// ConfigJSON is {"auths": {...}}: the .dockerconfigjson key, and the docker CLI's config.json.
	ConfigJSON Format = iota
	// Dockercfg is the bare map {"<registry>": {...}} of the .dockercfg key.
	Dockercfg
)

func (f Format) String() string {
	if f == Dockercfg {
		return ".dockercfg"
	}
	return ".dockerconfigjson"
}

// Sentinel errors; ParseError wraps one of them.
var (
	ErrSyntax      = errors.New("not valid JSON")
	ErrShape       = errors.New("not a docker config")
	ErrAuthBase64  = errors.New(`"auth" is not valid base64`)
	ErrAuthNoColon = errors.New(`"auth" does not decode to username:password`)
)

// ParseError is a problem at a place in the input.
type ParseError struct {
	Line, Column int    // 1-based; 0 when unknown
	Key          string // the registry key of the entry, when the problem is in one
	Err          error
	Hint         string // how to fix it
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "entry %q: ", DisplayKey(e.Key))
	}
	b.WriteString(e.Err.Error())
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Entry is one registry entry of a config.
type Entry struct {
	// Key is the registry key exactly as written.
	Key string
	// Credential is what the kubelet uses: from auth when it is set, else from the
	// username and password fields.
	Credential
	// HasAuth reports whether the entry has a non-empty auth field.
	HasAuth bool
	// AuthDisagrees reports whether auth and the username/password fields are both set
	// and name different credentials (the kubelet uses auth).
	AuthDisagrees bool
	// IdentityToken and RegistryToken report fields the kubelet ignores.
	IdentityToken, RegistryToken bool
}

// Config is a parsed docker config.
type Config struct {
	Format Format
	// HasAuths reports whether a ConfigJSON config has an "auths" object.
	HasAuths bool
	// Entries, sorted by key.
	Entries []Entry
	// CredsStore and CredHelpers name credential helpers (docker CLI files).
	CredsStore  string
	CredHelpers map[string]string
}

// rawEntry holds the fields of an entry; encoding/json matches names without regard
// to case, as it does for the kubelet.
type rawEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Email         string `json:"email"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// Parse reads a docker config of the given format as the kubelet does.
func Parse(data []byte, format Format) (*Config, error) {
	var top any
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(data, err)
	}
	if _, ok := top.(map[string]any); !ok {
		return nil, &ParseError{Line: 1, Column: 1, Err: ErrShape, Hint: "the top level must be a JSON object"}
	}
	cfg := &Config{Format: format}
	var entries map[string]json.RawMessage
	switch format {
	case ConfigJSON:
		// Exactly what the kubelet decodes: a wrongly typed HttpHeaders fails the
		// Secret for it, other fields are never looked at.
		var secret struct {
			Auths       map[string]json.RawMessage `json:"auths"`
			HTTPHeaders map[string]string          `json:"HttpHeaders"`
		}
		if err := json.Unmarshal(data, &secret); err != nil {
			return nil, jsonError(data, err)
		}
		entries, cfg.HasAuths = secret.Auths, secret.Auths != nil
	case Dockercfg:
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, jsonError(data, err)
		}
	}
	for key, raw := range entries {
		e, err := parseEntry(key, raw)
		if err != nil {
			line, col := locateKey(data, key)
			err.Line, err.Column = line, col
			return nil, err
		}
		cfg.Entries = append(cfg.Entries, e)
	}
	slices.SortFunc(cfg.Entries, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return cfg, nil
}

func parseEntry(key string, raw json.RawMessage) (Entry, *ParseError) {
	var r rawEntry
	if err := json.Unmarshal(raw, &r); err != nil {
		return Entry{}, &ParseError{Key: key, Err: fmt.Errorf("%w: %v", ErrShape, err), Hint: `an entry is an object like {"auth": "<base64 of user:password>"}`}
	}
	e := Entry{
		Key:           key,
		Credential:    Credential{Username: r.Username, Password: r.Password, Email: r.Email},
		IdentityToken: r.IdentityToken != "",
		RegistryToken: r.RegistryToken != "",
	}
	if r.Auth == "" {
		return e, nil
	}
	user, pass, err := DecodeAuth(r.Auth)
	if err != nil {
		return Entry{}, &ParseError{Key: key, Err: err, Hint: "set auth to the base64 of username:password, e.g. the output of: printf '%s' 'user:password' | base64 -w0"}
	}
	e.HasAuth = true
	e.AuthDisagrees = (r.Username != "" || r.Password != "") && (r.Username != user || r.Password != pass)
	e.Username, e.Password = user, pass
	return e, nil
}

// ParseFile reads a docker CLI config.json: the entries as Parse reads them, plus the
// credential helpers (credsStore, credHelpers) that hold the secrets of the entries
// left empty.
func ParseFile(data []byte) (*Config, error) {
	cfg, err := Parse(data, ConfigJSON)
	if err != nil {
		return nil, err
	}
	var helpers struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	if err := json.Unmarshal(data, &helpers); err != nil {
		return nil, jsonError(data, err)
	}
	cfg.CredsStore, cfg.CredHelpers = helpers.CredsStore, helpers.CredHelpers
	return cfg, nil
}

// DecodeAuth decodes an auth field as the kubelet does: padded or unpadded base64 of
// username:password, split at the first colon.
func DecodeAuth(field string) (user, pass string, err error) {
	var decoded []byte
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		decoded, err = base64.StdEncoding.DecodeString(field)
	} else {
		decoded, err = base64.RawStdEncoding.DecodeString(field)
	}
	if err != nil {
		return "", "", fmt.Errorf("%w (%v)", ErrAuthBase64, err)
	}
	user, pass, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return "", "", ErrAuthNoColon
	}
	return user, pass, nil
}

// EncodeAuth is the auth field for a username and password.
func EncodeAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// jsonError turns an encoding/json error into a ParseError at its position.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte; at the end of input there is none.
		at := syn.Offset
		if at < int64(len(data)) {
			at--
		}
		line, col := position(data, at)
		return &ParseError{Line: line, Column: col, Err: fmt.Errorf("%w: %v", ErrSyntax, syn)}
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		what := typ.Field
		if what == "" {
			what = "value"
		}
		return &ParseError{Line: line, Column: col, Err: fmt.Errorf("%w: %s is a JSON %s where %s belongs", ErrShape, what, typ.Value, jsonKind(typ.Type.Kind().String()))}
	default:
		return &ParseError{Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "an object"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	default:
		return "a " + goKind
	}
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// locateKey finds where a registry key is written, for error positions.
func locateKey(data []byte, key string) (line, col int) {
	quoted, err := json.Marshal(key)
	if err != nil {
		return 0, 0
	}
	i := bytes.Index(data, quoted)
	if i < 0 {
		return 0, 0
	}
	return position(data, int64(i))
}
