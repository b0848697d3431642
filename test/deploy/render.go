package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/regcred/regcred/test/helmbin"
)

// root is the repository's top folder.
func root() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..")
}

// ChartDir returns the path of the Helm chart, charts/regcred.
func ChartDir() string { return filepath.Join(root(), "charts", "regcred") }

// ConfigDir returns the path of the kustomize config, config/ (config/default is
// the whole install).
func ConfigDir() string { return filepath.Join(root(), "config") }

// Helm runs the pinned helm with args and returns what it prints.
func Helm(ctx context.Context, args ...string) ([]byte, error) {
	bin, err := helmbin.Path(ctx)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %q: %w: %s", args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// Chart renders the chart as release in namespace, its CRDs included, with values
// given as helm --set arguments ("apiServer.host=10.245.0.1").
func Chart(ctx context.Context, release, namespace string, set ...string) ([]*unstructured.Unstructured, error) {
	args := []string{"template", release, ChartDir(), "--namespace", namespace, "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := Helm(ctx, args...)
	if err != nil {
		return nil, err
	}
	return Decode(out)
}

// Kustomize builds the kustomization in dir (ConfigDir()+"/default", or an overlay
// of it) as `kubectl kustomize` does.
func Kustomize(dir string) ([]*unstructured.Unstructured, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return Decode(out)
}

// Decode splits a stream of YAML documents into objects, skipping empty ones.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	d := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode manifests: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}
