// Command check verifies a krew plugin manifest against the archives beside it, with
// krew's own tools built from this module: validate-krew-manifest (krew's manifest
// validator: ValidatePlugin, every platform supported, no overlapping selectors), then
// for each platform the sha256 of its archive, that the archive holds the files and the
// `bin` the manifest names, and `krew install --manifest --archive` of that archive
// as that platform (KREW_OS, KREW_ARCH) into a temporary KREW_ROOT. The manifest's
// URIs are never fetched: an archive is the file named like the URI's last element.
//
//	check dist/regcred.yaml
//
// validate-krew-manifest and krew are looked for beside this binary (hack/krew.sh
// builds all three).
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/krew/pkg/index"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: check MANIFEST.yaml (the archives beside it)")
		os.Exit(2)
	}
	if err := check(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func check(manifest string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tools := filepath.Dir(self)
	if out, err := exec.Command(filepath.Join(tools, "validate-krew-manifest"), "-manifest", manifest, "-skip-install").CombinedOutput(); err != nil {
		return fmt.Errorf("krew's validate-krew-manifest refuses %s: %w\n%s", manifest, err, out)
	}
	b, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	var p index.Plugin
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return fmt.Errorf("read %s as a krew Plugin: %w", manifest, err)
	}
	for i, pl := range p.Spec.Platforms {
		osName, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		archive := filepath.Join(filepath.Dir(manifest), path.Base(pl.URI))
		if err := checkPlatform(pl, archive); err != nil {
			return fmt.Errorf("spec.platforms[%d] (%s/%s): %w", i, osName, arch, err)
		}
		if err := install(tools, manifest, archive, osName, arch); err != nil {
			return fmt.Errorf("spec.platforms[%d] (%s/%s): %w", i, osName, arch, err)
		}
		fmt.Printf("%s/%s: %s: sha256 matches, holds %s, krew installs it\n", osName, arch, filepath.Base(archive), pl.Bin)
	}
	return nil
}

// checkPlatform checks the archive's sha256 and that its files give bin.
func checkPlatform(pl index.Platform, archive string) error {
	data, err := os.ReadFile(archive)
	if err != nil {
		return fmt.Errorf("the archive for %s: %w", pl.URI, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != pl.Sha256 {
		return fmt.Errorf("%s has sha256 %s, the manifest says %s", archive, got, pl.Sha256)
	}
	names, err := entries(archive, data)
	if err != nil {
		return err
	}
	installed := map[string]bool{}
	for _, f := range pl.Files {
		found := false
		for _, n := range names {
			if ok, _ := path.Match(f.From, n); ok {
				installed[path.Join(f.To, path.Base(n))] = true
				found = true
			}
		}
		if !found {
			return fmt.Errorf("files: %q matches nothing in %s (%v)", f.From, archive, names)
		}
	}
	if !installed[pl.Bin] {
		return fmt.Errorf("bin %q is not among the files installed from %s (%v)", pl.Bin, archive, names)
	}
	return nil
}

func entries(name string, data []byte) ([]string, error) {
	var out []string
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		for _, f := range zr.File {
			out = append(out, f.Name)
		}
		return out, nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, h.Name)
	}
}

// install runs krew's installer for the platform, offline, and checks the plugin's
// command is there afterwards.
func install(tools, manifest, archive, osName, arch string) error {
	root, err := os.MkdirTemp("", "krew-root-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	cmd := exec.Command(filepath.Join(tools, "krew"), "install", "--manifest", manifest, "--archive", archive)
	cmd.Env = append(os.Environ(), "KREW_ROOT="+root, "KREW_OS="+osName, "KREW_ARCH="+arch, "KREW_NO_UPGRADE_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("krew install --manifest %s --archive %s: %w\n%s", manifest, archive, err, out)
	}
	link := filepath.Join(root, "bin", "kubectl-"+strings.TrimSuffix(filepath.Base(manifest), filepath.Ext(manifest)))
	if osName == "windows" {
		link += ".exe"
	}
	if _, err := os.Stat(link); err != nil {
		return fmt.Errorf("krew installed the plugin but not its command: %w", err)
	}
	return nil
}
