package keyring

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeKey(t *testing.T) {
	tests := []struct {
		key  string
		want string
	}{
		{"https://index.docker.io/v1/", "index.docker.io"},
		{"https://index.docker.io/v1", "index.docker.io/v1"},
		{"index.docker.io", "index.docker.io"},
		{"docker.io", "docker.io"},
		{"http://reg.example.com/", "reg.example.com"},
		{"https://reg.example.com/v2/", "reg.example.com"},
		{"https://reg.example.com/v2/team", "reg.example.com/team"},
		{"reg.example.com/v1/team/app", "reg.example.com/team/app"},
		{"reg.example.com/v3/team", "reg.example.com/v3/team"},
		{"reg.example.com:5000", "reg.example.com:5000"},
		{"reg.example.com/team/app:1", "reg.example.com/team/app:1"},
		{"HTTPS://reg.example.com", "HTTPS://reg.example.com"},
		{"Reg.Example.com", "Reg.Example.com"},
		{"user:pw@reg.example.com/team?x=1#frag", "reg.example.com/team"},
		{"reg.example.com/te%2Fam", "reg.example.com/te/am"},
		{"10.0.0.*:5000", "10.0.0.*:5000"},
		{"[::1]:5000", "[::1]:5000"},
		{"docker.io:", "docker.io:"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := NormalizeKey(tt.key)
			if err != nil || got != tt.want {
				t.Errorf("NormalizeKey(%q) = %q, %v, want %q, nil", tt.key, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeKeyUnparsable(t *testing.T) {
	tests := []struct {
		key  string
		want string
	}{
		{"reg.example.com:abc", "invalid port"},
		{"reg.example.com/%zz", "invalid URL escape"},
		{" docker.io", "invalid character"},
		{"reg example.com", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := NormalizeKey(tt.key)
			if !errors.Is(err, ErrUnparsableKey) {
				t.Fatalf("NormalizeKey(%q) = %q, %v, want an error wrapping ErrUnparsableKey", tt.key, got, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.key) {
				t.Errorf("NormalizeKey(%q) error = %q, want it to name the key and contain %q", tt.key, msg, tt.want)
			}
		})
	}
}
