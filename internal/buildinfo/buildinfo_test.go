package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"stamped at link time wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab"}, Settings: vcs(rev, "false")}, "v1.2.3"},
		{"go install module@version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0"},
		{"pseudo-version from a checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab+dirty"}, Settings: vcs(rev, "true")}, "v0.0.0-20260102030405-0123456789ab+dirty"},
		{"revision without a module version", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "devel-0123456789ab"},
		{"modified revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "devel-0123456789ab+dirty"},
		{"nothing recorded", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build information", "", nil, "devel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.stamped, tt.bi); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBuildFromCheckout builds both binaries with a plain `go build` in a git checkout
// of this source tree (a fresh repository: in a git worktree the go command records no
// VCS information) and checks that both report the commit, and +dirty once a file changed.
func TestBuildFromCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("find the module: %v", err)
	}
	src := strings.TrimSpace(string(root))
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The tracked and new files of this tree, as they are now.
	list := exec.Command("git", "ls-files", "-co", "--exclude-standard", "-z")
	list.Dir = src
	names, err := list.Output()
	if err != nil {
		t.Fatalf("list the source files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(names), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(src, name))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("git", "init", "-q")
	run("git", "add", "-A")
	run("git", "commit", "-q", "-m", "checkout")
	rev := run("git", "rev-parse", "HEAD")

	run("go", "build", "-o", "bin/", "./cmd/kubectl-regcred", "./cmd/regcred-controller")
	plugin := run("bin/kubectl-regcred", "version", "--client")
	controller := run("bin/regcred-controller", "-version")
	if !strings.Contains(plugin, rev[:12]) || strings.Contains(plugin, "dirty") {
		t.Errorf("kubectl regcred version from a clean checkout of %s says %q", rev, plugin)
	}
	if want := "Client Version: " + controller; plugin != want {
		t.Errorf("the controller says %q, the plugin %q", controller, plugin)
	}

	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("go", "build", "-o", "bin/", "./cmd/kubectl-regcred")
	if v := run("bin/kubectl-regcred", "version", "--client"); !strings.Contains(v, rev[:12]) || !strings.Contains(v, "+dirty") {
		t.Errorf("kubectl regcred version from a modified checkout of %s says %q", rev, v)
	}
}
