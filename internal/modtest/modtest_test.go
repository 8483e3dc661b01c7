package modtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func needGo(t *testing.T) {
	t.Helper()
	if _, err := GoCommand(); err != nil {
		t.Skip(err)
	}
}

func TestParseGoMod(t *testing.T) {
	src := `// comment
module "example.com/m" // trailing

go 1.26.0

require example.com/a v1.2.3

require (
	example.com/b v0.1.0 // indirect
	// a comment line
	example.com/c v0.0.0-20200101000000-abcdefabcdef
)

replace example.com/a => ../a
`
	mod, gv, req := parseGoMod([]byte(src))
	if mod != "example.com/m" || gv != "1.26.0" {
		t.Errorf("module %q go %q, want example.com/m 1.26.0", mod, gv)
	}
	want := []string{"example.com/a v1.2.3", "example.com/b v0.1.0", "example.com/c v0.0.0-20200101000000-abcdefabcdef"}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("requires %q, want %q", req, want)
	}
}

func TestDygenDir(t *testing.T) {
	needGo(t)
	dir, err := DygenDir()
	if err != nil {
		t.Fatal(err)
	}
	// The test runs in internal/modtest of the dygen checkout.
	wd, _ := os.Getwd()
	want, _ := filepath.Abs(filepath.Join(wd, "..", ".."))
	if dir != want {
		t.Errorf("DygenDir() = %s, want %s", dir, want)
	}
	if !hasModule(dir, ModulePath) {
		t.Errorf("%s has no go.mod for %s", dir, ModulePath)
	}
}

// TestDygenDirDownstream checks DygenDir in a module that requires dygen
// through a replace directive, and outside any module.
func TestDygenDirDownstream(t *testing.T) {
	needGo(t)
	dygen, err := DygenDir()
	if err != nil {
		t.Fatal(err)
	}
	down := t.TempDir()
	if err := Scaffold(down, "example.com/down", dygen); err != nil {
		t.Fatal(err)
	}
	t.Chdir(down)
	got, err := DygenDir()
	if err != nil || got != dygen {
		t.Errorf("in a downstream module: DygenDir() = %q, %v; want %q", got, err, dygen)
	}

	t.Chdir(t.TempDir())
	got, err = DygenDir()
	// The test binary lives outside the checkout too, so nothing is found.
	if err == nil {
		t.Logf("outside any module DygenDir() = %q (found from the executable)", got)
	} else if !strings.Contains(err.Error(), "cannot find the source of module "+ModulePath) {
		t.Errorf("outside any module: unclear error %v", err)
	}
}

func TestFindModuleUp(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	// A nested module with another path must be walked past.
	write(t, filepath.Join(root, "a", "go.mod"), "module example.com/other\n")
	write(t, filepath.Join(root, "go.mod"), "module "+ModulePath+"\n\ngo 1.26.0\n")
	got, ok := findModuleUp(deep, ModulePath)
	if !ok || got != root {
		t.Errorf("findModuleUp = %q, %v; want %q, true", got, ok, root)
	}
	if _, ok := findModuleUp(deep, "example.com/none"); ok {
		t.Errorf("findModuleUp found a module that is not there")
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScaffoldErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Scaffold(dir, "example.com/x", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Scaffold with a missing dygen dir: err = %v, want one naming the directory", err)
	}
	other := filepath.Join(dir, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(other, "go.mod"), "module example.com/other\n")
	if err := Scaffold(filepath.Join(dir, "m"), "example.com/x", other); err == nil || !strings.Contains(err.Error(), "example.com/other") {
		t.Errorf("Scaffold with a non-dygen module: err = %v, want one naming its module", err)
	}
	if err := Scaffold(dir, "", other); err == nil {
		t.Errorf("Scaffold with an empty module path succeeded")
	}
}

// TestScaffoldBuilds makes a tiny module that imports dygen's verify
// package and checks that it vets and that its test runs.
func TestScaffoldBuilds(t *testing.T) {
	needGo(t)
	if testing.Short() {
		t.Skip("builds a module; skipped in -short mode")
	}
	dygen, err := DygenDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := Scaffold(dir, "example.com/tiny", dygen); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module example.com/tiny", "require " + ModulePath + " v0.0.0", "replace " + ModulePath + " => " + dygen} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err != nil {
		t.Errorf("no go.sum: %v", err)
	}
	write(t, filepath.Join(dir, "tiny.go"), `// Package tiny uses dygen's verify package.
package tiny

import "github.com/dygen/dygen/verify"

// Taps is the accumulation length of a 3x3 convolution over 4 channels.
func Taps() int {
	return verify.Params{InC: 4, OutC: 4, KH: 3, KW: 3, Groups: 1}.Taps()
}
`)
	write(t, filepath.Join(dir, "tiny_test.go"), `package tiny

import "testing"

func TestTaps(t *testing.T) {
	if got := Taps(); got != 36 {
		t.Fatalf("Taps() = %d, want 36", got)
	}
	t.Logf("TINY ok")
}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, errOut, err := RunGo(ctx, dir, nil, "vet", "./..."); err != nil {
		t.Fatalf("go vet: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err := GoTest(ctx, dir, "-count=1", "-v", "./...")
	if err != nil {
		t.Fatalf("go test: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(string(out), "TINY ok") {
		t.Errorf("go test output lacks the test's log line:\n%s", out)
	}

	// A failing test shows as an *exec.ExitError with the output kept.
	write(t, filepath.Join(dir, "fail_test.go"), `package tiny

import "testing"

func TestFail(t *testing.T) { t.Fatal("FAILS on purpose") }
`)
	out, _, err = GoTest(ctx, dir, "-count=1", "-run", "TestFail", ".")
	var exitErr *exec.ExitError
	if err == nil || !errors.As(err, &exitErr) {
		t.Fatalf("failing go test: err = %v, want an exit error", err)
	}
	if !strings.Contains(string(out), "FAILS on purpose") {
		t.Errorf("failing go test output lacks the failure:\n%s", out)
	}
}

// TestRunGoEnv checks that env entries reach the go command.
func TestRunGoEnv(t *testing.T) {
	needGo(t)
	out, errOut, err := RunGo(context.Background(), t.TempDir(), []string{"GOFLAGS=-mod=mod"}, "env", "GOFLAGS", "GOWORK")
	if err != nil {
		t.Fatalf("go env: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "-mod=mod" || lines[1] != "off" {
		t.Errorf("go env GOFLAGS GOWORK = %q, want -mod=mod and off", lines)
	}
}
