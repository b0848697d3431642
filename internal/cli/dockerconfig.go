package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/regcred/regcred/internal/dockercfg"
)

// dockerConfigPath resolves ~ and $DOCKER_CONFIG for the default path.
func dockerConfigPath(path string) (string, error) {
	if path == defaultDockerConfig {
		if d := os.Getenv("DOCKER_CONFIG"); d != "" {
			return filepath.Join(d, "config.json"), nil
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the docker config: %w", err)
		}
		return filepath.Join(home, ".docker", "config.json"), nil
	}
	if strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the docker config: %w", err)
		}
		return filepath.Join(home, path[2:]), nil
	}
	return path, nil
}

// fromDockerConfig takes the named registries' credentials from a docker config file,
// asking credential helpers where the file names one.
func fromDockerConfig(ctx context.Context, path string, registries []string) ([]dockercfg.Server, error) {
	path, err := dockerConfigPath(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--from-docker-config: %w", err)
	}
	cfg, err := dockercfg.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("--from-docker-config %s: %w", path, err)
	}
	var servers []dockercfg.Server
	for _, r := range registries {
		key, err := dockercfg.KeyFor(r)
		if err != nil {
			return nil, fmt.Errorf("--registry: %w", err)
		}
		cred, err := credentialFor(ctx, cfg, key)
		if err != nil {
			return nil, fmt.Errorf("--registry %s from %s: %w", r, path, err)
		}
		servers = append(servers, dockercfg.Server{Key: key, Credential: cred})
	}
	return servers, nil
}

// credentialFor finds the credential for a key: the entry's username and password, or
// the credential helper's answer.
func credentialFor(ctx context.Context, cfg *dockercfg.Config, key string) (dockercfg.Credential, error) {
	var entry *dockercfg.Entry
	written := key
	for i, e := range cfg.Entries {
		if k, err := dockercfg.KeyFor(e.Key); err == nil && k == key {
			entry, written = &cfg.Entries[i], e.Key
			break
		}
	}
	if entry != nil && !entry.Empty() {
		if entry.Password == "" {
			return dockercfg.Credential{}, fmt.Errorf("the entry %q has a username but no password", written)
		}
		return entry.Credential, nil
	}
	helper := cfg.HelperFor(written)
	if helper == "" {
		if entry != nil && entry.IdentityToken {
			return dockercfg.Credential{}, fmt.Errorf("the entry %q holds only an identity token, which the kubelet cannot use: log in with a username and password or a registry token used as password", written)
		}
		if entry != nil {
			return dockercfg.Credential{}, fmt.Errorf("the entry %q is empty and no credential helper is configured: run docker login %s again", written, dockercfg.LoginHost(key))
		}
		return dockercfg.Credential{}, fmt.Errorf("no entry for it; the file has: %s", keysOf(cfg))
	}
	cred, err := dockercfg.FromHelper(ctx, helper, written)
	if errors.Is(err, dockercfg.ErrIdentityToken) {
		return dockercfg.Credential{}, fmt.Errorf("%w: log in with a username and password or a registry token used as password", err)
	}
	if err != nil {
		return dockercfg.Credential{}, err
	}
	if cred.Username == "" || cred.Password == "" {
		return dockercfg.Credential{}, fmt.Errorf("credential helper %s answered without a username or password: an empty entry would make the kubelet pull anonymously and skip the node's own credentials", helper)
	}
	return cred, nil
}

func keysOf(cfg *dockercfg.Config) string {
	var keys []string
	for _, e := range cfg.Entries {
		keys = append(keys, e.Key)
	}
	for k := range cfg.CredHelpers {
		keys = append(keys, k+" (credential helper)")
	}
	if len(keys) == 0 {
		return "no registries"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
