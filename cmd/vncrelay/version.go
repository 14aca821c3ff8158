package main

import (
	"runtime/debug"
	"strings"
)

// versionString says which vncrelay this is: the module version, the VCS
// revision it was built from (with "+dirty" for uncommitted changes) and the
// Go version, as the build recorded them.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "vncrelay (no build information)"
	}
	var b strings.Builder
	b.WriteString("vncrelay ")
	b.WriteString(bi.Main.Version)
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		b.WriteString(" " + rev + dirty)
	}
	b.WriteString(" " + bi.GoVersion)
	return b.String()
}
