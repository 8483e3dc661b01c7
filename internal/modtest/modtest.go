// Package modtest makes throwaway Go modules that use dygen, the way a
// downstream user's module would: a go.mod that requires
// github.com/dygen/dygen and replaces it with a local checkout. The dygen
// verify command builds and tests generated packages in such a module, and
// so do dygen's own end-to-end tests.
package modtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the module path of dygen itself.
const ModulePath = "github.com/dygen/dygen"

// DygenDir returns the directory holding the source of the dygen module.
//
// It first asks the go command (`go list -m -f {{.Dir}} github.com/dygen/dygen`
// in the current directory), which answers inside dygen's own module and
// inside any module that requires dygen (through a replace directive or the
// module cache). Failing that, it walks up from the working directory and
// then from the running executable's directory to the first go.mod that
// declares module github.com/dygen/dygen.
func DygenDir() (string, error) {
	dir, err := goListDir()
	if err == nil {
		return dir, nil
	}
	tried := []string{err.Error()}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for i, start := range starts {
		if i > 0 && start == starts[0] {
			continue
		}
		if dir, ok := findModuleUp(start, ModulePath); ok {
			return dir, nil
		}
		tried = append(tried, "no go.mod declaring module "+ModulePath+" in "+start+" or any parent")
	}
	return "", fmt.Errorf("cannot find the source of module %s: %s; run dygen inside a dygen checkout or a module that requires dygen",
		ModulePath, strings.Join(tried, "; "))
}

// goListDir asks the go command where the dygen module's source is.
func goListDir() (string, error) {
	goCmd, err := GoCommand()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goCmd, "list", "-m", "-f", "{{.Dir}}", ModulePath)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("go list -m %s: %s", ModulePath, msg)
	}
	dir := strings.TrimSpace(stdout.String())
	if dir == "" {
		return "", fmt.Errorf("go list -m %s: module has no source directory (not downloaded?)", ModulePath)
	}
	if !hasModule(dir, ModulePath) {
		return "", fmt.Errorf("go list -m %s gave %s, which has no go.mod declaring it", ModulePath, dir)
	}
	return filepath.Abs(dir)
}

// findModuleUp walks up from start to the first directory whose go.mod
// declares module path.
func findModuleUp(start, path string) (string, bool) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", false
	}
	for {
		if hasModule(dir, path) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// hasModule reports whether dir/go.mod declares module path.
func hasModule(dir, path string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	mod, _, _ := parseGoMod(data)
	return mod == path
}

// parseGoMod extracts the module path, the go version and the require
// lines (each "path version") from a go.mod file. It understands the subset
// of the syntax that `go mod` writes, which is all that dygen's go.mod uses.
func parseGoMod(data []byte) (module, goVersion string, requires []string) {
	inRequire := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if inRequire {
			if f[0] == ")" {
				inRequire = false
			} else if len(f) >= 2 {
				requires = append(requires, unquote(f[0])+" "+f[1])
			}
			continue
		}
		switch f[0] {
		case "module":
			if len(f) >= 2 {
				module = unquote(f[1])
			}
		case "go":
			if len(f) >= 2 {
				goVersion = f[1]
			}
		case "require":
			if len(f) >= 2 && f[1] == "(" {
				inRequire = true
			} else if len(f) >= 3 {
				requires = append(requires, unquote(f[1])+" "+f[2])
			}
		}
	}
	return module, goVersion, requires
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '`') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// Scaffold makes dir the root of a new module named modulePath that requires
// dygen and replaces it with the checkout in dygenDir. It writes go.mod (with
// dygen's go version and, as indirect requirements, dygen's own, so that
// packages importing any part of dygen build without `go mod tidy`) and a
// go.sum copied from dygenDir, so that builds need the network only for
// modules missing from the module cache. dir is created if needed; existing
// go.mod and go.sum files in it are overwritten.
func Scaffold(dir, modulePath, dygenDir string) error {
	if modulePath == "" {
		return errors.New("modtest.Scaffold: empty module path")
	}
	absDygen, err := filepath.Abs(dygenDir)
	if err != nil {
		return fmt.Errorf("modtest.Scaffold: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(absDygen, "go.mod"))
	if err != nil {
		return fmt.Errorf("modtest.Scaffold: dygen directory %s: %w", absDygen, err)
	}
	mod, goVersion, requires := parseGoMod(data)
	if mod != ModulePath {
		return fmt.Errorf("modtest.Scaffold: %s declares module %q, not %s", filepath.Join(absDygen, "go.mod"), mod, ModulePath)
	}
	if goVersion == "" {
		goVersion = "1.26.0"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// Written by dygen's internal/modtest: a throwaway module that uses dygen.\n\n")
	fmt.Fprintf(&b, "module %s\n\ngo %s\n\n", modulePath, goVersion)
	fmt.Fprintf(&b, "require %s v0.0.0\n", ModulePath)
	if len(requires) > 0 {
		b.WriteString("\nrequire (\n")
		for _, r := range requires {
			fmt.Fprintf(&b, "\t%s // indirect\n", r)
		}
		b.WriteString(")\n")
	}
	fmt.Fprintf(&b, "\nreplace %s => %s\n", ModulePath, quoteIfNeeded(absDygen))

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("modtest.Scaffold: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("modtest.Scaffold: %w", err)
	}
	sum, err := os.ReadFile(filepath.Join(absDygen, "go.sum"))
	if errors.Is(err, fs.ErrNotExist) {
		sum, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("modtest.Scaffold: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		return fmt.Errorf("modtest.Scaffold: %w", err)
	}
	return nil
}

// quoteIfNeeded quotes a go.mod path that contains spaces or quotes.
func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " \t\"`'") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// GoCommand returns the go command to run: `go` from PATH, else
// $GOROOT/bin/go.
func GoCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH (and GOROOT/bin/go does not exist)")
}

// RunGo runs `go args...` in dir with the current environment plus env
// (entries "KEY=value", which override) and GOWORK=off, so that a go.work
// file above dir cannot change what is built. It returns what the command
// wrote to its standard output and error; err is non-nil when it could not
// start or exited non-zero (an *exec.ExitError then).
func RunGo(ctx context.Context, dir string, env []string, args ...string) (stdout, stderr []byte, err error) {
	goCmd, err := GoCommand()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	err = cmd.Run()
	return outBuf.Bytes(), errBuf.Bytes(), err
}

// GoTest runs `go test args...` in dir (see RunGo).
func GoTest(ctx context.Context, dir string, args ...string) (stdout, stderr []byte, err error) {
	return RunGo(ctx, dir, nil, append([]string{"test"}, args...)...)
}
