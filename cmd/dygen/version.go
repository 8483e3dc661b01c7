package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

var versionCmd = &command{
	name:     "version",
	synopsis: "print dygen's version and the Go version that built it",
	usage:    "dygen version",
	help: `Version prints dygen's module version, as the go command recorded it in the
binary: a release or pseudo-version when dygen was built as a dependency,
"(devel)" when built inside a dygen checkout, followed by the VCS revision
when the build recorded one, and the Go version and platform.

Example:

	dygen version
	go tool dygen version
`,
}

func init() {
	versionCmd.setup = func(fs *flag.FlagSet) func(stdout, stderr io.Writer) int {
		return func(stdout, stderr io.Writer) int {
			bi, ok := debug.ReadBuildInfo()
			fmt.Fprintln(stdout, versionLine(bi, ok))
			return exitOK
		}
	}
}

// versionLine formats the version from build info, e.g.
// "dygen v0.3.0 go1.26.8 linux/amd64" or
// "dygen (devel) rev 0123456789ab (modified) go1.26.8 linux/amd64".
func versionLine(bi *debug.BuildInfo, ok bool) string {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	if !ok || bi == nil {
		return fmt.Sprintf("dygen (unknown: no build info) %s %s", runtime.Version(), platform)
	}
	v := bi.Main.Version
	if r := bi.Main.Replace; r != nil {
		// A replacement by a directory (as in a module that develops
		// against a dygen checkout) has no version: that is a development
		// build too.
		v = r.Version
	}
	if v == "" {
		v = "(devel)"
	}
	line := "dygen " + v
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		line += " rev " + rev
		if modified == "true" {
			line += " (modified)"
		}
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return line + " " + goVersion + " " + platform
}
