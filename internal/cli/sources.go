package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// readSecretFiles reads the Secrets of YAML or JSON manifest files (several documents
// each; other kinds are skipped). stringData is folded into data, as the API server does.
func readSecretFiles(paths []string) ([]*corev1.Secret, error) {
	var out []*corev1.Secret
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for doc := 1; ; doc++ {
			var s corev1.Secret
			err := dec.Decode(&s)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("--secret-file %s, document %d: %w", path, doc, err)
			}
			if s.Kind != "Secret" {
				continue
			}
			for k, v := range s.StringData {
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				s.Data[k] = []byte(v)
			}
			if s.Namespace == "" {
				s.Namespace = "default"
			}
			out = append(out, &s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--secret-file: no Secret in %v", paths)
	}
	return out, nil
}

// getSecrets reads named Secrets of one namespace, in order. A missing Secret is
// skipped with a warning, as the kubelet does.
func getSecrets(ctx context.Context, cs kubernetes.Interface, ns string, names []string) ([]*corev1.Secret, []string, error) {
	var out []*corev1.Secret
	var warnings []string
	for _, name := range names {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if isNotFound(err) {
				warnings = append(warnings, fmt.Sprintf("secret %s/%s does not exist: the kubelet skips it", ns, name))
				continue
			}
			return nil, nil, fmt.Errorf("get secret %s/%s: %w", ns, name, err)
		}
		out = append(out, s)
	}
	return out, warnings, nil
}

// keyringEntries turns Secrets into the kubelet's keyring input, in order. Secrets the
// kubelet skips give warnings; a Secret it cannot parse is an error, since the kubelet
// then fails the pull outright.
func keyringEntries(secrets []*corev1.Secret) ([]keyring.Entry, []string, error) {
	var entries []keyring.Entry
	var warnings []string
	for _, s := range secrets {
		found, cfg, err := keyring.FromSecret(s)
		switch {
		case errors.Is(err, dockercfg.ErrWrongType), errors.Is(err, dockercfg.ErrNoData):
			warnings = append(warnings, err.Error()+"; the kubelet skips it")
			continue
		case err != nil:
			return nil, warnings, fmt.Errorf("%w: the kubelet fails every pull that uses it", err)
		}
		for _, p := range cfg.Problems() {
			warnings = append(warnings, fmt.Sprintf("secret %s/%s: %s", s.Namespace, s.Name, p))
		}
		entries = append(entries, found...)
	}
	return entries, warnings, nil
}

// dockerConfigEntries reads a docker config file as keyring entries.
func dockerConfigEntries(path string) ([]keyring.Entry, []string, error) {
	path, err := dockerConfigPath(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--docker-config: %w", err)
	}
	cfg, err := dockercfg.ParseFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--docker-config %s: %w", path, err)
	}
	entries := keyring.FromConfig(cfg, path)
	var warnings []string
	for _, p := range cfg.Problems() {
		warnings = append(warnings, path+": "+p)
	}
	return entries, warnings, nil
}
