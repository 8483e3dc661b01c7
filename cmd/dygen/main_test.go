package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs dygen in-process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	code, out, errOut := runCLI(t)
	if code != exitUsage || out != "" || !strings.Contains(errOut, "no command") || !strings.Contains(errOut, "commands: generate, verify, bench, plan, version, help") {
		t.Errorf("dygen with no args: code %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, h := range []string{"-h", "--help", "help"} {
		code, out, errOut := runCLI(t, h)
		if code != exitOK || errOut != "" {
			t.Errorf("dygen %s: code %d, stderr %q", h, code, errOut)
		}
		for _, want := range []string{"Usage:", "Examples:", "generate", "verify", "plan", "version", "go:generate"} {
			if !strings.Contains(out, want) {
				t.Errorf("dygen %s: output lacks %q:\n%s", h, want, out)
			}
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"-spec", "x.yaml"}, {"help", "frobnicate"}} {
		code, out, errOut := runCLI(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "Run 'dygen -h' for help.") {
			t.Errorf("dygen %q: code %d, stdout %q, stderr:\n%s", args, code, out, errOut)
		}
	}
	if _, _, errOut := runCLI(t, "frobnicate"); !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: stderr does not name it:\n%s", errOut)
	}
}

// TestCommandHelp checks that -h documents every flag of every command,
// with an example.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "-help"}, {"help", c.name}} {
			code, out, errOut := runCLI(t, args...)
			if code != exitOK || errOut != "" {
				t.Errorf("dygen %q: code %d, stderr %q", args, code, errOut)
			}
			if !strings.HasPrefix(out, "usage: dygen "+c.name) || !strings.Contains(out, "Example") {
				t.Errorf("dygen %q: no usage line or example:\n%s", args, out)
			}
			fs := newFlagSet(c)
			c.setup(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(out, "  -"+f.Name) || !strings.Contains(c.usage, "-"+f.Name) {
					t.Errorf("dygen %q: flag -%s is not documented in the usage line and flag list:\n%s", args, f.Name, out)
				}
			})
		}
	}
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate"}, "-spec is required"},
		{[]string{"generate", "-spec", "x.yaml"}, "-out is required"},
		{[]string{"generate", "-spec", "x.yaml", "-out", dir, "-pkg", "1x"}, "not a valid Go package name"},
		{[]string{"generate", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"generate", "-spec", "x.yaml", "-out", dir, "extra"}, `unexpected argument "extra"`},
		{[]string{"plan"}, "-spec is required"},
		{[]string{"verify"}, "-spec is required"},
		{[]string{"verify", "-spec", "x.yaml", "-golden", ""}, "empty value"},
		{[]string{"verify", "-spec", "x.yaml", "-timeout", "0s"}, "-timeout must be positive"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "usage: dygen") {
			t.Errorf("dygen %q: code %d (want %d), stdout %q, stderr (want %q):\n%s", tc.args, code, exitUsage, out, tc.want, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(t, "version")
	if code != exitOK || errOut != "" {
		t.Fatalf("dygen version: code %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "dygen ") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) || !strings.HasSuffix(out, "\n") {
		t.Errorf("dygen version = %q", out)
	}

	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/dygen/dygen", Version: "v1.2.3"}},
			"dygen v1.2.3 go1.26.8 "},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/dygen/dygen", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}},
			"dygen (devel) rev 0123456789ab (modified) go1.26.8 "},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/dygen/dygen", Version: "v0.0.0",
			Replace: &debug.Module{Path: "../"}}},
			"dygen (devel) go1.26.8 "},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/dygen/dygen"}},
			"dygen (devel) go1.26.8 "},
	} {
		if got := versionLine(tc.bi, true); !strings.HasPrefix(got, tc.want) {
			t.Errorf("versionLine(%+v) = %q, want prefix %q", tc.bi.Main, got, tc.want)
		}
	}
	if got := versionLine(nil, false); !strings.Contains(got, "no build info") {
		t.Errorf("versionLine without build info = %q", got)
	}
}

func TestGenerateSpecErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")

	missing := filepath.Join(dir, "missing.yaml")
	code, stdout, errOut := runCLI(t, "generate", "-spec", missing, "-out", out)
	if code != exitFail || stdout != "" || !strings.Contains(errOut, missing) || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing spec: code %d, stdout %q, stderr:\n%s", code, stdout, errOut)
	}

	code, _, errOut = runCLI(t, "generate", "-spec", dir, "-out", out)
	if code != exitFail || !strings.Contains(errOut, "is a directory") {
		t.Errorf("spec is a directory: code %d, stderr:\n%s", code, errOut)
	}

	for name, src := range map[string]string{
		"unknown_key.yaml": "package: p\nlayers:\n  - name: A\n    in_channels: 4\n    out_channels: 4\n    kernel_size: 3\n    colour: blue\n",
		"not_yaml.yaml":    "package: p\nlayers: [\n",
		"no_channels.yaml": "package: p\nlayers:\n  - name: A\n    kernel_size: 3\n",
		"groups.yaml":      "package: p\nlayers:\n  - name: A\n    in_channels: 4\n    out_channels: 6\n    kernel_size: 3\n    groups: 4\n",
	} {
		spec := filepath.Join(dir, name)
		if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"generate", "-spec", spec, "-out", out},
			{"plan", "-spec", spec},
			{"verify", "-spec", spec},
		} {
			code, stdout, errOut := runCLI(t, args...)
			if code != exitFail || stdout != "" || !strings.Contains(errOut, spec) || !strings.HasPrefix(errOut, "dygen "+args[0]+": ") {
				t.Errorf("dygen %q: code %d, stdout %q, stderr (want the spec's name):\n%s", args, code, stdout, errOut)
			}
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed generate created %s", out)
	}
}
