package dockercfg

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	auth := EncodeAuth("alice", "s3cret")
	tests := []struct {
		name   string
		data   string
		format Format
		want   []Entry
	}{
		{"auth only", `{"auths":{"reg.example.com":{"auth":"` + auth + `"}}}`, ConfigJSON,
			[]Entry{{Key: "reg.example.com", Credential: Credential{Username: "alice", Password: "s3cret"}, HasAuth: true}}},
		{"username and password", `{"auths":{"reg.example.com":{"username":"alice","password":"s3cret","email":"a@example.com"}}}`, ConfigJSON,
			[]Entry{{Key: "reg.example.com", Credential: Credential{Username: "alice", Password: "s3cret", Email: "a@example.com"}}}},
		{"auth overrides username and password", `{"auths":{"r":{"username":"bob","password":"x","auth":"` + auth + `"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "alice", Password: "s3cret"}, HasAuth: true, AuthDisagrees: true}}},
		{"auth agreeing with username and password", `{"auths":{"r":{"username":"alice","password":"s3cret","auth":"` + auth + `"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "alice", Password: "s3cret"}, HasAuth: true}}},
		{"unpadded auth", `{"auths":{"r":{"auth":"` + strings.TrimRight(EncodeAuth("al", "pw"), "=") + `"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "al", Password: "pw"}, HasAuth: true}}},
		{"password with colons", `{"auths":{"r":{"auth":"` + EncodeAuth("u", "a:b:c") + `"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "u", Password: "a:b:c"}, HasAuth: true}}},
		{"identity token only", `{"auths":{"r":{"identitytoken":"tok"}}}`, ConfigJSON,
			[]Entry{{Key: "r", IdentityToken: true}}},
		{"registry token only", `{"auths":{"r":{"registrytoken":"tok"}}}`, ConfigJSON,
			[]Entry{{Key: "r", RegistryToken: true}}},
		{"empty entry", `{"auths":{"r":{}}}`, ConfigJSON, []Entry{{Key: "r"}}},
		{"null entry", `{"auths":{"r":null}}`, ConfigJSON, []Entry{{Key: "r"}}},
		{"field names in other case", `{"Auths":{"r":{"Username":"u","Password":"p"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "u", Password: "p"}}}},
		{"dockercfg bare map", `{"reg.example.com":{"auth":"` + auth + `"},"a.example.com":{"username":"u","password":"p"}}`, Dockercfg,
			[]Entry{
				{Key: "a.example.com", Credential: Credential{Username: "u", Password: "p"}},
				{Key: "reg.example.com", Credential: Credential{Username: "alice", Password: "s3cret"}, HasAuth: true},
			}},
		{"dockerconfigjson without auths", `{"reg.example.com":{"auth":"` + auth + `"}}`, ConfigJSON, nil},
		// What the kubelet does not look at, or accepts, parses.
		{"null document", `null`, ConfigJSON, nil},
		{"null auths", `{"auths":null}`, ConfigJSON, nil},
		{"tokens of another type", `{"auths":{"r":{"username":"u","password":"p","identitytoken":5,"registrytoken":{}}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "u", Password: "p"}, IdentityToken: true, RegistryToken: true}}},
		{"unknown fields of any type", `{"auths":{"r":{"username":"u","x":[1]}},"credsStore":5,"HttpHeaders":null}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "u"}}}},
		{"null fields", `{"auths":{"r":{"username":null,"auth":null}}}`, ConfigJSON, []Entry{{Key: "r"}}},
		{"auth with newlines", `{"auths":{"r":{"auth":"dXNl\ncjpwYXNz"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "user", Password: "pass"}, HasAuth: true}}},
		{"null dockercfg", `null`, Dockercfg, nil},
		{"empty auth is ignored", `{"auths":{"r":{"auth":"","username":"u","password":"p"}}}`, ConfigJSON,
			[]Entry{{Key: "r", Credential: Credential{Username: "u", Password: "p"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.data), tt.format)
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", tt.data, err)
			}
			if diff := cmp.Diff(tt.want, cfg.Entries); diff != "" {
				t.Errorf("Parse(%s) entries differ (-want +got):\n%s", tt.data, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		format    Format
		wantErr   error
		wantText  string // substring of the message
		line, col int
	}{
		{"truncated JSON", "{\n  \"auths\": {\n", ConfigJSON, ErrSyntax, "not valid JSON", 3, 1},
		{"trailing comma", "{\"auths\": {\"r\": {},}}", ConfigJSON, ErrSyntax, "not valid JSON", 1, 20},
		{"top level array", `[1]`, ConfigJSON, ErrShape, "top level must be a JSON object", 1, 1},
		{"auths is a string", `{"auths": "x"}`, ConfigJSON, ErrShape, "is a JSON string where an object belongs", 1, 14},
		{"entry is a string", "{\"auths\": {\n  \"reg.example.com\": \"x\"}}", ConfigJSON, ErrShape, `entry "reg.example.com"`, 2, 3},
		{"auth not base64", "{\"auths\": {\n  \"reg.example.com\": {\"auth\": \"!!!\"}}}", ConfigJSON, ErrAuthBase64, `line 2, column 3: entry "reg.example.com": "auth" is not valid base64`, 2, 3},
		{"auth without colon", `{"auths":{"r":{"auth":"` + EncodeAuth("nocolon", "")[0:8] + `"}}}`, ConfigJSON, ErrAuthNoColon, `base64 of username:password`, 1, 11},
		{"dockercfg with bad auth", `{"r":{"auth":"%%%"}}`, Dockercfg, ErrAuthBase64, `entry "r"`, 1, 2},
		{"username is a number", `{"auths":{"r":{"username":5}}}`, ConfigJSON, ErrShape, `entry "r"`, 1, 11},
		// Every way the kubelet's decoding (pkg/credentialprovider config.go and
		// secrets.go, v1.37) fails that the API server lets through, which only checks
		// that the data is a JSON object.
		{"password is a boolean", `{"auths":{"r":{"password":true}}}`, ConfigJSON, ErrShape, `password is a JSON bool where a string belongs`, 1, 11},
		{"email is an object", `{"auths":{"r":{"email":{}}}}`, ConfigJSON, ErrShape, `email is a JSON object where a string belongs`, 1, 11},
		{"auth is a number", `{"auths":{"r":{"auth":12}}}`, ConfigJSON, ErrShape, `auth is a JSON number where a string belongs`, 1, 11},
		{"field name in other case of the wrong type", `{"auths":{"r":{"USERNAME":[]}}}`, ConfigJSON, ErrShape, `entry "r"`, 1, 11},
		{"entry is an array", `{"auths":{"r":[]}}`, ConfigJSON, ErrShape, `entry "r"`, 1, 11},
		{"entry is a number", `{"auths":{"r":1}}`, ConfigJSON, ErrShape, `entry "r"`, 1, 11},
		{"auths is an array", `{"auths":[]}`, ConfigJSON, ErrShape, `auths is a JSON array where an object belongs`, 1, 11},
		{"Auths in other case is a number", `{"AUTHS":1}`, ConfigJSON, ErrShape, `is a JSON number where an object belongs`, 1, 11},
		{"HttpHeaders is a string", `{"auths":{},"HttpHeaders":"x"}`, ConfigJSON, ErrShape, `HttpHeaders is a JSON string where an object belongs`, 1, 30},
		{"HttpHeaders value is a number", `{"auths":{},"HttpHeaders":{"X-A":1}}`, ConfigJSON, ErrShape, `HttpHeaders`, 1, 35},
		{"auth with a character outside base64", `{"auths":{"r":{"auth":"dXNlcjpw*XNz"}}}`, ConfigJSON, ErrAuthBase64, `illegal base64 data at input byte 8`, 1, 11},
		{"auth padded in the middle", `{"auths":{"r":{"auth":"dQ==dXNlcjpwYXNz"}}}`, ConfigJSON, ErrAuthBase64, `illegal base64 data`, 1, 11},
		{"auth with padding but wrong length", `{"auths":{"r":{"auth":"dXNlcjpwYX="}}}`, ConfigJSON, ErrAuthBase64, `illegal base64 data`, 1, 11},
		{"auth url-safe base64", `{"auths":{"r":{"auth":"` + strings.NewReplacer("+", "-", "/", "_").Replace(EncodeAuth("u", "p>>>?")) + `"}}}`, ConfigJSON, ErrAuthBase64, `illegal base64 data`, 1, 11},
		{"first failing entry in document order", `{"auths":{"b":{"auth":"!!!"},"a":{"auth":"bm9jb2xvbg=="}}}`, ConfigJSON, ErrAuthBase64, `entry "b"`, 1, 11},
		{"a failing entry wins over a wrongly typed HttpHeaders before it", `{"HttpHeaders":1,"auths":{"r":{"auth":"bm9jb2xvbg=="}}}`, ConfigJSON, ErrAuthNoColon, `entry "r"`, 1, 27},
		{"a later duplicate does not hide a failing entry", `{"auths":{"r":{"auth":"!!!"},"r":{}}}`, ConfigJSON, ErrAuthBase64, `entry "r"`, 1, 11},
		{"dockercfg entry is a string", `{"r":"x"}`, Dockercfg, ErrShape, `entry "r"`, 1, 2},
		{"dockercfg auth without colon", `{"r":{"auth":"bm9jb2xvbg=="}}`, Dockercfg, ErrAuthNoColon, `entry "r"`, 1, 2},
		{"dockercfg top level array", `[]`, Dockercfg, ErrShape, "top level must be a JSON object", 1, 1},
		{"a syntax error after a failing entry", `{"auths":{"r":"x"}`, ConfigJSON, ErrSyntax, "not valid JSON", 1, 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), tt.format)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.data, err, tt.wantErr)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not a *ParseError", tt.data, err)
			}
			if pe.Line != tt.line || pe.Column != tt.col {
				t.Errorf("Parse(%q) error at line %d, column %d, want %d, %d (%v)", tt.data, pe.Line, pe.Column, tt.line, tt.col, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.data, err, tt.wantText)
			}
		})
	}
}

func TestDecodeAuth(t *testing.T) {
	if _, _, err := DecodeAuth(EncodeAuth("user", "pass")); err != nil {
		t.Fatal(err)
	}
	u, p, err := DecodeAuth("dXNlcjpwYXNz") // user:pass, padded form needs no padding
	if err != nil || u != "user" || p != "pass" {
		t.Errorf("DecodeAuth(unpadded) = %q, %q, %v, want user, pass", u, p, err)
	}
}

func TestCredentialNeverShowsPassword(t *testing.T) {
	c := Credential{Username: "alice", Password: "hunter2-secret"}
	e := Entry{Key: "r", Credential: c}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "cred", c)
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", c), logs.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password in output: %s", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"auths":{"reg.example.com":{"auth":"YWxpY2U6czNjcmV0"}}}`), false)
	f.Add([]byte(`{"r":{"username":"u","password":"p"}}`), true)
	f.Add([]byte(`{"auths":{"r":{"auth":"!!!"}}}`), false)
	f.Add([]byte("{\n\"auths\": {\n"), false)
	f.Add([]byte(`{"auths":"x","credsStore":"desktop"}`), false)
	f.Fuzz(func(t *testing.T, data []byte, dockercfg bool) {
		format := ConfigJSON
		if dockercfg {
			format = Dockercfg
		}
		cfg, err := Parse(data, format)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T is not a *ParseError: %v", err, err)
			}
			if pe.Line < 0 || pe.Column < 0 {
				t.Fatalf("negative position: %v", err)
			}
			return
		}
		for _, e := range cfg.Entries {
			// A password long enough not to occur by chance in the rest of the text.
			shown := strings.NewReplacer(e.Key, "", e.Username, "", e.Email, "").Replace(fmt.Sprint(e))
			if len(e.Password) >= 12 && strings.Contains(shown, e.Password) {
				t.Fatalf("entry %q prints its password", e.Key)
			}
		}
		_ = cfg.Problems()
	})
}
