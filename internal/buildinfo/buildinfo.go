// Package buildinfo says which build of regcred is running.
package buildinfo

import "runtime/debug"

// version is set at link time: -X github.com/regcred/regcred/internal/buildinfo.version=v0.1.0
var version = ""

// Version returns the release version, or the module version and VCS revision the
// binary was built from, or "devel".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
