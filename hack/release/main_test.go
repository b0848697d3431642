package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestReleaseIsReproducible builds this machine's platform twice: the archives are the
// same bytes, hold the binary with the version stamped, and the manifest and SHA256SUMS
// name their sha256.
func TestReleaseIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kubectl-regcred")
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	p := Platform{runtime.GOOS, runtime.GOARCH}
	o := Options{Version: "v0.0.1-test.1", URL: defaultURL, Platforms: []Platform{p}, Jobs: 1,
		Root: strings.TrimSpace(string(root)), Time: time.Unix(1700000000, 0).UTC()}
	var archives [2][]byte
	for i := range archives {
		o.Out = filepath.Join(t.TempDir(), "dist")
		if _, err := Release(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if archives[i], err = os.ReadFile(filepath.Join(o.Out, p.archive(o.Version))); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Fatalf("two builds of %s differ", p.archive(o.Version))
	}

	sums, _ := os.ReadFile(filepath.Join(o.Out, "SHA256SUMS"))
	b, err := os.ReadFile(filepath.Join(o.Out, manifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatal(err)
	}
	sum, _, _ := strings.Cut(string(sums), " ")
	if len(m.Spec.Platforms) != 1 || m.Spec.Platforms[0].Sha256 != sum || m.Spec.Version != o.Version ||
		m.Spec.Platforms[0].URI != "https://github.com/regcred/regcred/releases/download/v0.0.1-test.1/"+p.archive(o.Version) {
		t.Fatalf("manifest %s\ndoes not match SHA256SUMS %s", b, sums)
	}

	gz, err := gzip.NewReader(bytes.NewReader(archives[0]))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil || h.Name != "kubectl-regcred" || h.Mode != 0o755 || !h.ModTime.Equal(o.Time) || h.Uid != 0 {
		t.Fatalf("first entry %+v, %v", h, err)
	}
	bin := filepath.Join(t.TempDir(), "kubectl-regcred")
	f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(f, tr)
	f.Close()
	out, err := exec.Command(bin, "version", "--client").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "Client Version: v0.0.1-test.1" {
		t.Errorf("the released binary says %q (%v)", out, err)
	}
}

func TestReleaseRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"version without v", Options{Version: "0.1.0", URL: defaultURL}, "semantic version"},
		{"not semver", Options{Version: "v1.2", URL: defaultURL}, "semantic version"},
		{"bad URL template", Options{Version: "v0.1.0", URL: "{{.Version"}, "--url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Out = filepath.Join(t.TempDir(), "dist")
			_, err := Release(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if _, err := os.Stat(tt.o.Out); !os.IsNotExist(err) {
				t.Errorf("%s was written", tt.o.Out)
			}
		})
	}
}
