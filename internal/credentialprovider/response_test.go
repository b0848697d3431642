package credentialprovider_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regcred/regcred/internal/credentialprovider"
	"github.com/regcred/regcred/internal/dockercfg"
)

func TestParseResponse(t *testing.T) {
	const head = `"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse"`
	tests := []struct {
		name, image, data string
		wantKeys          []string
		wantCache         time.Duration
		wantErr           string
	}{
		{name: "ECR", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1",
			data:     `{` + head + `,"cacheKeyType":"Registry","cacheDuration":"6h0m0s","auth":{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":{"username":"AWS","password":"tok"}}}`,
			wantKeys: []string{"123456789012.dkr.ecr.eu-west-1.amazonaws.com"}, wantCache: 6 * time.Hour},
		{name: "glob keys kept as the kubelet matches them", image: "europe-docker.pkg.dev/p/r/app",
			data:     `{` + head + `,"cacheKeyType":"Global","auth":{"*.pkg.dev":{"username":"oauth2accesstoken","password":"ya29"},"gcr.io":{"username":"oauth2accesstoken","password":"ya29"}}}`,
			wantKeys: []string{"*.pkg.dev", "gcr.io"}},
		{name: "no cacheDuration", image: "reg.example.com/app",
			data:     `{` + head + `,"cacheKeyType":"Image","auth":{"reg.example.com":{"username":"u","password":"p"}}}`,
			wantKeys: []string{"reg.example.com"}},
		{name: "empty", image: "x.example.com/a", data: "  \n", wantErr: "wrote nothing on stdout"},
		{name: "cut short", image: "x.example.com/a", data: `{` + head + `,"auth":{"x":{"password":"sec`, wantErr: "invalid JSON at byte"},
		{name: "not an object", image: "x.example.com/a", data: `["a"]`, wantErr: "not a JSON CredentialProviderResponse"},
		{name: "wrong version", image: "x.example.com/a", data: `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{"x.example.com":{"password":"p"}}}`, wantErr: `apiVersion "credentialprovider.kubelet.k8s.io/v1beta1"`},
		{name: "field names are case-sensitive", image: "x.example.com/a", data: `{"APIVersion":"credentialprovider.kubelet.k8s.io/v1","Kind":"CredentialProviderResponse","cacheKeyType":"Image","auth":{"x.example.com":{"password":"p"}}}`, wantErr: `apiVersion ""`},
		{name: "bad cacheKeyType", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Node","auth":{"x.example.com":{"password":"p"}}}`, wantErr: `cacheKeyType "Node"`},
		{name: "negative cacheDuration", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image","cacheDuration":"-1s","auth":{"x.example.com":{"password":"p"}}}`, wantErr: "negative"},
		{name: "no auth", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image"}`, wantErr: "no auth entry"},
		{name: "empty entry", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image","auth":{"x.example.com":{}}}`, wantErr: "neither username nor password"},
		{name: "unparsable key", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image","auth":{"x.example.com:abc":{"password":"p"}}}`, wantErr: "kubelet can parse"},
		{name: "key for another registry", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image","auth":{"y.example.com":{"password":"p"}}}`, wantErr: "none of the keys y.example.com"},
		{name: "user information in a key is not shown", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image","auth":{"https://bob:pw123@y.example.com":{"password":"p"}}}`, wantErr: "REDACTED@y.example.com"},
		{name: "password of the wrong type", image: "x.example.com/a", data: `{` + head + `,"cacheKeyType":"Image","auth":{"x.example.com":{"password":12345}}}`, wantErr: "cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := credentialprovider.ParseResponse([]byte(tt.data), tt.image)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, credentialprovider.ErrResponse) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				for _, secret := range []string{"pw123", "12345", "sec"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows %q", err, secret)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(c.Keys, ",") != strings.Join(tt.wantKeys, ",") || c.CacheDuration != tt.wantCache {
				t.Errorf("keys %v cache %s, want %v %s", c.Keys, c.CacheDuration, tt.wantKeys, tt.wantCache)
			}
			cfg, err := dockercfg.Parse(c.DockerConfigJSON, dockercfg.ConfigJSON)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Entries) != len(tt.wantKeys) {
				t.Errorf("dockerconfigjson has %d entries, want %d", len(cfg.Entries), len(tt.wantKeys))
			}
		})
	}
}

func TestRedact(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl"
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"known secret", "got tok-abc back", []string{"tok-abc"}, "got REDACTED back"},
		{"JWT", "token " + jwt + " rejected", nil, "token REDACTED rejected"},
		{"named value", `error: {"password": "hunter2", "user": "bob"}`, nil, `error: {"password": "REDACTED", "user": "bob"}`},
		{"bearer", "Authorization: Bearer abc.def", nil, "Authorization: Bearer REDACTED"},
		{"blob", "key AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMI2K7MDENG in use", nil, "key REDACTED in use"},
		{"path kept", "open /usr/local/bin/ecr-credential-provider-config: no such file", nil, "open /usr/local/bin/ecr-credential-provider-config: no such file"},
		{"control characters dropped", "a\x1b[31mb\r\n", nil, "a[31mb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := credentialprovider.Redact(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	long := strings.Repeat("x ", 2000) + "the end"
	if got := credentialprovider.Redact(long); len(got) > 1024+3 || !strings.HasSuffix(got, "the end") {
		t.Errorf("long stderr kept %d bytes ending %q", len(got), got[len(got)-10:])
	}
}
