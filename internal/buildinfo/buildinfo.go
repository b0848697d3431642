// Package buildinfo says which build of regcred is running.
package buildinfo

import "runtime/debug"

// version is set at link time for releases:
// -X github.com/regcred/regcred/internal/buildinfo.version=v0.1.0
var version = ""

// Version returns, in this order: the version stamped at link time; the main module's
// version in the build information (v0.1.0 for `go install
// github.com/regcred/regcred/cmd/kubectl-regcred@v0.1.0`, a pseudo-version carrying
// the commit, +dirty when modified, for a build in a git checkout); "devel-" and the
// commit from the VCS settings; or "devel" when the build recorded none of them
// (-buildvcs=false, or a git worktree, where the go command finds no repository).
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
}

func versionOf(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "devel"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified == "true" {
		revision += "+dirty"
	}
	return "devel-" + revision
}
