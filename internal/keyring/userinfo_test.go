package keyring

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/regcred/regcred/internal/dockercfg"
)

func TestNewEntryRedactsUserInfo(t *testing.T) {
	tests := []struct {
		name, key, want string
		image           string // matched by the key as written and as shown alike, when set
	}{
		{"https with user and password", "https://alice:pw@reg.example.com", "https://REDACTED@reg.example.com", "reg.example.com/app"},
		{"no scheme", "alice:pw@reg.example.com/team", "REDACTED@reg.example.com/team", "reg.example.com/team/app"},
		{"user only", "https://alice@reg.example.com:5000", "https://REDACTED@reg.example.com:5000", "reg.example.com:5000/app"},
		{"@ in the password", "https://alice:p@ss@reg.example.com", "https://REDACTED@reg.example.com", "reg.example.com/app"},
		{"short user name kept elsewhere", "https://a:b@reg.example.com/a", "https://REDACTED@reg.example.com/a", "reg.example.com/a/b"},
		{"capital scheme read as a path by the kubelet", "HTTPS://alice:pw@reg.example.com", "HTTPS://REDACTED@reg.example.com", ""},
		{"other scheme", "ftp://alice:pw@reg.example.com", "ftp://REDACTED@reg.example.com", ""},
		{"scheme-like text later in the key", "alice:pw@reg.example.com/x://y", "REDACTED@reg.example.com/x://y", ""},
		{"user information the kubelet cannot parse stays unparsable", "https://al ice:pw@reg.example.com", "https://REDACTED%@reg.example.com", ""},
		{"bad escape in the password stays unparsable", "https://alice:p%zz@reg.example.com", "https://REDACTED%@reg.example.com", ""},
		{"@ in the path is no user information", "reg.example.com/team@x", "reg.example.com/team@x", ""},
		{"plain key", "https://index.docker.io/v1/", "https://index.docker.io/v1/", "nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEntry(tt.key, "u", "p", "ns/s")
			if e.Key != tt.want {
				t.Errorf("NewEntry(%q).Key = %q, want %q", tt.key, e.Key, tt.want)
			}
			_, errWritten := NormalizeKey(tt.key)
			_, errShown := NormalizeKey(e.Key)
			if (errWritten == nil) != (errShown == nil) {
				t.Errorf("NormalizeKey(%q) error = %v but NormalizeKey(%q) error = %v: the kubelet's verdict changed", tt.key, errWritten, e.Key, errShown)
			}
			if tt.image != "" {
				res, err := Lookup(tt.image, []Entry{e})
				if err != nil || len(res.Matches) != 1 {
					t.Errorf("Lookup(%q, %q) = %v, %v; want one match", tt.image, e.Key, res.Matches, err)
				}
			}
		})
	}
}

// FuzzUserInfoNeverShown writes user information into a key and checks that nothing
// built from it shows it: lookups (text and JSON, matches and near misses), key
// errors, and dockercfg's parse errors and problems. It also checks that redaction
// changes nothing the kubelet decides.
func FuzzUserInfoNeverShown(f *testing.F) {
	f.Add(uint8(0), "alice", "hunter2", "reg.example.com", "reg.example.com/app")
	f.Add(uint8(1), "a", "b", "reg.example.com/a", "reg.example.com/a/x")
	f.Add(uint8(2), "al%69ce", "p w", "Reg.Example.com", "reg.example.com/app")
	f.Add(uint8(3), "x", "%zz", "index.docker.io/v1/", "nginx")
	f.Add(uint8(4), "u", "p:q", "reg.example.com:5000/x://y", "reg.example.com:5000/x/y")
	f.Add(uint8(5), "", "", "*.example.com", "reg.example.com/app")
	schemes := []string{"", "https://", "http://", "HTTPS://", "Http://", "ftp://", "docker://"}
	f.Fuzz(func(t *testing.T, scheme uint8, user, pass, rest, image string) {
		if strings.ContainsAny(user+pass, "/?#@") {
			return // then the user information ends elsewhere; another input covers it
		}
		userinfo := "usr" + user + ":" + pass
		key := schemes[int(scheme)%len(schemes)] + userinfo + "@" + rest
		forms := []string{userinfo}
		for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
			if u, err := unescape(userinfo); err == nil {
				forms = append(forms, u)
			}
		}
		for _, form := range forms {
			if strings.Contains(rest+image+"REDACTED%", form) || len(form) < 4 {
				return // could be shown for another reason
			}
		}
		var outputs []string
		show := func(what string, v any) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal(%s): %v", what, err)
			}
			outputs = append(outputs, what+": "+string(b), fmt.Sprintf("%s: %v %+v %#v %s", what, v, v, v, v))
		}

		e := NewEntry(key, "user", "pass", "ns/s")
		show("entry", e)
		raw := Entry{Key: key, Username: "user", Password: "pass", Source: "ns/s"}
		_, errWritten := NormalizeKey(key)
		norm, errShown := NormalizeKey(e.Key)
		if (errWritten == nil) != (errShown == nil) {
			t.Fatalf("NormalizeKey(%q) error = %v, but for the redacted %q: %v", key, errWritten, e.Key, errShown)
		}
		outputs = append(outputs, norm, fmt.Sprint(errShown))
		for _, img := range []string{image, "reg.example.com/app", "nginx"} {
			res, err := Lookup(img, []Entry{e, NewEntry("reg.example.com", "u", "p", "ns/t")})
			if err != nil {
				outputs = append(outputs, err.Error())
				continue
			}
			show("lookup", res)
			want, _ := Lookup(img, []Entry{raw, NewEntry("reg.example.com", "u", "p", "ns/t")})
			if len(want.Matches) != len(res.Matches) || len(want.Matches) > 0 && want.Matches[0].Username != res.Matches[0].Username {
				t.Fatalf("Lookup(%q) tries %v with the key as written, %v with it redacted", img, want.Matches, res.Matches)
			}
		}

		quoted, _ := json.Marshal(key)
		for _, doc := range []string{
			`{"auths":{` + string(quoted) + `:{"auth":"!!!"}}}`,
			`{"auths":{` + string(quoted) + `:{"username":1}}}`,
			`{"auths":{` + string(quoted) + `:{}}}`,
			`{"auths":{` + string(quoted) + `:{"auth":"` + dockercfg.EncodeAuth("u", "p") + `"}}}`,
		} {
			cfg, err := dockercfg.Parse([]byte(doc), dockercfg.ConfigJSON)
			if err != nil {
				outputs = append(outputs, err.Error())
				continue
			}
			outputs = append(outputs, cfg.Problems()...)
			for _, e := range FromConfig(cfg, "ns/s") {
				res, err := Lookup(image, []Entry{e})
				if err == nil {
					show("config lookup", res)
				}
			}
		}
		for _, out := range outputs {
			for _, form := range forms {
				if strings.Contains(out, form) {
					t.Fatalf("user information %q of key %q shown: %s", form, key, out)
				}
			}
		}
	})
}
