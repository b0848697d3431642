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

// kubeletEntry decodes one entry exactly as the kubelet's DockerConfigEntry does
// (k8s.io/kubernetes/pkg/credentialprovider, v1.37): it reads only username, password,
// email and auth, matching names without regard to case, and fails on a field of
// another JSON type or an auth it cannot decode. The rest of an entry is never looked at.
type kubeletEntry struct {
	Credential
	auth          string // the auth field as written
	fieldUser     string // the username field, before auth overrides it
	fieldPass     string
	hasAuth       bool
	identityToken bool
	registryToken bool
}

// UnmarshalJSON is the kubelet's DockerConfigEntry.UnmarshalJSON, with what a
// diagnosis needs besides.
func (e *kubeletEntry) UnmarshalJSON(data []byte) error {
	var fields struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email"`
		Auth     string `json:"auth"`
	}
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	e.Credential = Credential{Username: fields.Username, Password: fields.Password, Email: fields.Email}
	e.fieldUser, e.fieldPass = fields.Username, fields.Password
	// Tokens the kubelet ignores; read leniently, since a wrong type there is no error
	// for the kubelet.
	var tokens struct {
		IdentityToken any `json:"identitytoken"`
		RegistryToken any `json:"registrytoken"`
	}
	if json.Unmarshal(data, &tokens) == nil {
		e.identityToken = tokens.IdentityToken != nil && tokens.IdentityToken != ""
		e.registryToken = tokens.RegistryToken != nil && tokens.RegistryToken != ""
	}
	if fields.Auth == "" {
		return nil
	}
	user, pass, err := decodeAuth(fields.Auth)
	if err != nil {
		return err
	}
	e.auth, e.hasAuth = fields.Auth, true
	e.Username, e.Password = user, pass
	return nil
}

// kubeletConfigJSON is the kubelet's DockerConfigJSON: a wrongly typed HttpHeaders
// fails the Secret for it, other top-level fields are never looked at.
type kubeletConfigJSON struct {
	Auths       map[string]kubeletEntry `json:"auths"`
	HTTPHeaders map[string]string       `json:"HttpHeaders"`
}

// Parse reads a docker config of the given format as the kubelet does: it fails
// exactly where the kubelet fails (the whole Secret, and with it the pod's keyring),
// with a *ParseError that says where and how to fix it.
func Parse(data []byte, format Format) (*Config, error) {
	cfg := &Config{Format: format}
	var entries map[string]kubeletEntry
	var err error
	switch format {
	case ConfigJSON:
		var secret kubeletConfigJSON
		err = json.Unmarshal(data, &secret)
		entries, cfg.HasAuths = secret.Auths, secret.Auths != nil
	case Dockercfg:
		err = json.Unmarshal(data, &entries)
	}
	if err != nil {
		return nil, parseError(data, format, err)
	}
	for key, k := range entries {
		cfg.Entries = append(cfg.Entries, Entry{
			Key:           key,
			Credential:    k.Credential,
			HasAuth:       k.hasAuth,
			AuthDisagrees: k.hasAuth && (k.fieldUser != "" || k.fieldPass != "") && (k.fieldUser != k.Username || k.fieldPass != k.Password),
			IdentityToken: k.identityToken,
			RegistryToken: k.registryToken,
		})
	}
	slices.SortFunc(cfg.Entries, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return cfg, nil
}

// parseError explains the error the kubelet's decoding gave: the entry it is in,
// found as the kubelet meets the entries (in document order, the first that fails),
// or else the place in the document.
func parseError(data []byte, format Format, err error) error {
	// encoding/json checks the whole document before it decodes any of it: with a
	// syntax error, no entry was looked at.
	var key string
	var entryErr error
	if syn := (*json.SyntaxError)(nil); !errors.As(err, &syn) {
		key, entryErr = failingEntry(data, format)
	}
	if entryErr == nil {
		pe := jsonError(data, err)
		if typ := (*json.UnmarshalTypeError)(nil); errors.As(err, &typ) && typ.Field == "" {
			pe.Line, pe.Column, pe.Hint = 1, 1, "the top level must be a JSON object"
		}
		return pe
	}
	line, col := locateKey(data, key)
	pe := &ParseError{Line: line, Column: col, Key: key}
	var corrupt base64.CorruptInputError
	switch {
	case errors.Is(entryErr, ErrAuthNoColon):
		pe.Err, pe.Hint = ErrAuthNoColon, authHint
	case errors.As(entryErr, &corrupt):
		pe.Err, pe.Hint = fmt.Errorf("%w (%v)", ErrAuthBase64, entryErr), authHint
	default:
		inner := jsonError(nil, entryErr)
		pe.Err, pe.Hint = inner.Err, `an entry is an object like {"auth": "<base64 of user:password>"} whose fields are strings`
	}
	return pe
}

const authHint = "set auth to the base64 of username:password, e.g. the output of: printf '%s' 'user:password' | base64 -w0"

// failingEntry returns the first entry, in document order, that the kubelet cannot
// decode, and its error; "" and nil when the error is not in an entry.
func failingEntry(data []byte, format Format) (string, error) {
	var objects []json.RawMessage
	switch format {
	case ConfigJSON:
		// Every top-level member that encoding/json would decode into "auths".
		for _, m := range members(data) {
			if strings.EqualFold(m.key, "auths") {
				objects = append(objects, m.value)
			}
		}
	case Dockercfg:
		objects = append(objects, data)
	}
	for _, obj := range objects {
		for _, m := range members(obj) {
			var k kubeletEntry
			if err := json.Unmarshal(m.value, &k); err != nil {
				return m.key, err
			}
		}
	}
	return "", nil
}

type member struct {
	key   string
	value json.RawMessage
}

// members lists an object's members in document order, duplicates included; nil when
// data is not an object (or not valid JSON).
func members(data []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return out
		}
		out = append(out, member{key: key, value: value})
	}
	return out
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
	user, pass, err = decodeAuth(field)
	if errors.Is(err, ErrAuthNoColon) {
		return "", "", err
	}
	if err != nil {
		return "", "", fmt.Errorf("%w (%v)", ErrAuthBase64, err)
	}
	return user, pass, nil
}

// decodeAuth is the kubelet's decodeDockerConfigFieldAuth: the base64 error as the
// kubelet returns it, or ErrAuthNoColon.
func decodeAuth(field string) (user, pass string, err error) {
	var decoded []byte
	// StdEncoding decodes only padded input, RawStdEncoding only unpadded.
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		decoded, err = base64.StdEncoding.DecodeString(field)
	} else {
		decoded, err = base64.RawStdEncoding.DecodeString(field)
	}
	if err != nil {
		return "", "", err
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
func jsonError(data []byte, err error) *ParseError {
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
