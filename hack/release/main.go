// Command release builds what a regcred release publishes, into one folder: an
// archive of kubectl-regcred for each platform (tar.gz, or zip for Windows, with the
// binary and the LICENSE when the repository has one), SHA256SUMS, and the krew plugin
// manifest regcred.yaml made from them.
//
//	go run ./hack/release --version v0.1.0 --out dist
//
// Builds are reproducible: CGO_ENABLED=0, -trimpath, -ldflags "-s -w" with the version
// stamped, and archive entries with fixed owners, modes and times (SOURCE_DATE_EPOCH, or
// the commit's time). The folder is written beside the target and renamed into place,
// so a failed run leaves no half-made release. `make release` then checks the manifest
// with krew's own validator and installer (hack/tools/krew/check).
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"
)

const (
	binary       = "kubectl-regcred"
	pkg          = "./cmd/kubectl-regcred"
	versionVar   = "github.com/regcred/regcred/internal/buildinfo.version"
	defaultURL   = "https://github.com/regcred/regcred/releases/download/{{.Version}}/{{.Archive}}"
	manifestFile = "regcred.yaml"
)

// Platforms are the release's GOOS/GOARCH pairs.
var Platforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Platform is a GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) bin() string {
	if p.OS == "windows" {
		return binary + ".exe"
	}
	return binary
}

func (p Platform) archive(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", binary, version, p.OS, p.Arch, ext)
}

// Options say what to build.
type Options struct {
	Version   string
	Out       string
	URL       string // text/template of an archive's download URL: {{.Version}}, {{.Archive}}
	Platforms []Platform
	Jobs      int
	// Root is the module's folder (with cmd/kubectl-regcred and maybe LICENSE).
	Root string
	// Time is the time of every archive entry.
	Time time.Time
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	o := Options{Platforms: Platforms}
	var platforms string
	fs.StringVar(&o.Version, "version", "", "the release's version, semver with a leading v (v0.1.0)")
	fs.StringVar(&o.Out, "out", "dist", "folder to write the release to (replaced)")
	fs.StringVar(&o.URL, "url", defaultURL, "template of an archive's download URL in the krew manifest: {{.Version}}, {{.Archive}}")
	fs.StringVar(&platforms, "platforms", "", "comma-separated GOOS/GOARCH pairs (default: linux, darwin and windows on amd64 and arm64)")
	fs.IntVar(&o.Jobs, "j", runtime.NumCPU(), "builds at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if platforms != "" {
		o.Platforms = nil
		for _, p := range strings.Split(platforms, ",") {
			goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
			if !ok || goos == "" || goarch == "" {
				return fmt.Errorf("--platforms: %q is not GOOS/GOARCH", p)
			}
			o.Platforms = append(o.Platforms, Platform{goos, goarch})
		}
	}
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("find the module's folder (go list -m): %w", err)
	}
	o.Root = strings.TrimSpace(string(root))
	if o.Time, err = sourceDate(ctx, o.Root); err != nil {
		return err
	}
	start := time.Now()
	files, err := Release(ctx, o)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(out, "%s\n", filepath.Join(o.Out, f))
	}
	fmt.Fprintf(out, "release %s: %d platforms in %s\n", o.Version, len(o.Platforms), time.Since(start).Round(time.Second))
	return nil
}

var semver = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// sourceDate is SOURCE_DATE_EPOCH, or the time of the checkout's commit.
func sourceDate(ctx context.Context, root string) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not seconds since 1970: set it to an integer, or unset it to use the commit's time", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("read the commit's time for the archive entries (git log): %w; set SOURCE_DATE_EPOCH outside a git checkout", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time %q: %w", b, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Release builds the release into o.Out and returns the names of its files.
func Release(ctx context.Context, o Options) ([]string, error) {
	if !semver.MatchString(o.Version) {
		return nil, fmt.Errorf("--version %q is not a semantic version with a leading v, as krew requires: give e.g. v0.1.0", o.Version)
	}
	urlTmpl, err := template.New("url").Option("missingkey=error").Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if o.Jobs < 1 {
		o.Jobs = 1
	}
	var license []byte
	if b, err := os.ReadFile(filepath.Join(o.Root, "LICENSE")); err == nil {
		license = b
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read LICENSE: %w", err)
	}

	out := filepath.Clean(o.Out)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", filepath.Dir(out), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+"-")
	if err != nil {
		return nil, fmt.Errorf("make a folder beside %s: %w", out, err)
	}
	defer os.RemoveAll(tmp)

	archives := make([][]byte, len(o.Platforms))
	errs := make([]error, len(o.Platforms))
	sem := make(chan struct{}, o.Jobs)
	var wg sync.WaitGroup
	for i, p := range o.Platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			archives[i], errs[i] = buildArchive(ctx, o, p, license)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var sums strings.Builder
	m := newManifest(o.Version)
	var names []string
	for i, p := range o.Platforms {
		name := p.archive(o.Version)
		if err := os.WriteFile(filepath.Join(tmp, name), archives[i], 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
		sum := sha256.Sum256(archives[i])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		var url bytes.Buffer
		if err := urlTmpl.Execute(&url, map[string]string{"Version": o.Version, "Archive": name}); err != nil {
			return nil, fmt.Errorf("--url: %w", err)
		}
		m.addPlatform(p, url.String(), hex.EncodeToString(sum[:]), license != nil)
		names = append(names, name)
	}
	manifest, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode the krew manifest: %w", err)
	}
	for name, data := range map[string][]byte{"SHA256SUMS": []byte(sums.String()), manifestFile: manifest} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	names = append(names, "SHA256SUMS", manifestFile)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(out); err != nil {
		return nil, fmt.Errorf("replace %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, fmt.Errorf("move the release into %s: %w", out, err)
	}
	sort.Strings(names)
	return names, nil
}

// buildArchive builds kubectl-regcred for p and returns its archive.
func buildArchive(ctx context.Context, o Options, p Platform, license []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "regcred-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, p.bin())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X "+versionVar+"="+o.Version, "-o", bin, pkg)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=-buildvcs=auto")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s for %s/%s: %w\n%s", pkg, p.OS, p.Arch, err, b)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	entries := []entry{{p.bin(), 0o755, exe}}
	if license != nil {
		entries = append(entries, entry{"LICENSE", 0o644, license})
	}
	if p.OS == "windows" {
		return zipOf(entries, o.Time)
	}
	return tarGzOf(entries, o.Time)
}

type entry struct {
	name string
	mode int64
	data []byte
}

func tarGzOf(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipOf(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(os.FileMode(e.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", e.name, err)
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, fmt.Errorf("zip %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
