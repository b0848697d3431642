package dockercfg

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKeyFor(t *testing.T) {
	tests := []struct {
		name, server, want, wantErr string
	}{
		{"host", "reg.example.com", "reg.example.com", ""},
		{"host and port", "reg.example.com:5000", "reg.example.com:5000", ""},
		{"scheme and slash dropped", "https://reg.example.com/", "reg.example.com", ""},
		{"upper-case scheme dropped", "HTTPS://reg.example.com", "reg.example.com", ""},
		{"repository path kept", "reg.example.com/team", "reg.example.com/team", ""},
		{"v2 path dropped", "https://reg.example.com/v2/", "reg.example.com", ""},
		{"docker.io", "docker.io", DockerHubKey, ""},
		{"index.docker.io", "index.docker.io", DockerHubKey, ""},
		// Not Docker Hub to the kubelet: only its own key matches an image written with it.
		{"registry-1.docker.io", "registry-1.docker.io", "registry-1.docker.io", ""},
		{"registry.hub.docker.com", "registry.hub.docker.com", "registry.hub.docker.com", ""},
		{"docker hub v1 url", "https://index.docker.io/v1/", DockerHubKey, ""},
		{"docker hub org stays a path", "docker.io/myorg", "docker.io/myorg", ""},
		{"index.docker.io org becomes docker.io", "index.docker.io/myorg", "docker.io/myorg", ""},
		{"registry-1 org stays registry-1", "https://registry-1.docker.io/v2/myorg/", "registry-1.docker.io/myorg", ""},
		{"IP and port", "10.0.0.5:5000", "10.0.0.5:5000", ""},
		{"empty", " ", "", "empty"},
		{"capitals", "Reg.Example.com", "", "write reg.example.com"},
		{"tag", "reg.example.com/team/app:1", "", "tag or digest"},
		{"bad port", "reg.example.com:abc", "", "not a host"},
		{"query", "reg.example.com/?x=1", "", "not a host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeyFor(tt.server)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("KeyFor(%q) = %q, %v; want error with %q", tt.server, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("KeyFor(%q) = %q, %v; want %q", tt.server, got, err, tt.want)
			}
		})
	}
}

func TestLoginHost(t *testing.T) {
	for key, want := range map[string]string{
		DockerHubKey: "registry-1.docker.io", "docker.io/myorg": "registry-1.docker.io",
		"reg.example.com:5000/team": "reg.example.com:5000", "https://reg.example.com": "reg.example.com",
	} {
		if got := LoginHost(key); got != want {
			t.Errorf("LoginHost(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestUnderRightType(t *testing.T) {
	auth := `{"r":{"auth":"` + EncodeAuth("u", "p") + `"}}`
	tests := []struct {
		name    string
		secret  *corev1.Secret
		want    int // entries
		wantErr error
	}{
		{"Opaque holding .dockerconfigjson", &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":` + auth + `}`)}}, 1, nil},
		{"dockerconfigjson type holding .dockercfg", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigKey: []byte(auth)}}, 1, nil},
		{"malformed data", &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{"r":1}`)}}, 0, ErrShape},
		{"neither key", &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"x": nil}}, 0, ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := UnderRightType(tt.secret)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("UnderRightType() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(cfg.Entries) != tt.want {
				t.Fatalf("UnderRightType() = %v, %v; want %d entries", cfg, err, tt.want)
			}
		})
	}
}
