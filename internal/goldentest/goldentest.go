// Package goldentest checks golden cases that no checked-in layer covers:
// the generated golden packages (generated/goldencases, familycases) hold
// one layer per known case, and a case added to the golden directories
// later (a new or hidden set) is run through dygen verify, which makes a
// layer for each file, instead of going unrun.
package goldentest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/verify"
)

// Unmatched returns the golden files that no layer of spec runs: no layer
// has the case's name, or that layer's hyperparameters or input size
// differ from the file's.
func Unmatched(spec *gen.Spec, files []string) ([]string, error) {
	layers := map[string]gen.Layer{}
	for _, l := range spec.Layers {
		layers[l.Name] = l
	}
	var out []string
	for _, path := range files {
		g, err := verify.LoadGolden(path)
		if err != nil {
			return nil, err
		}
		if l, ok := layers[g.Name]; !ok || !g.Matches(l.Params, l.InputH, l.InputW) {
			out = append(out, path)
		}
	}
	return out, nil
}

// Verify runs `dygen verify -golden FILE...` (from the dygen checkout at
// root, without a spec: one generated layer per file) on files and fails t
// with its output when it fails. With -short it only logs the files.
func Verify(t testing.TB, root string, files []string) {
	t.Helper()
	if len(files) == 0 {
		return
	}
	if testing.Short() {
		t.Logf("-short: not verifying %d golden files without a checked-in layer: %s", len(files), strings.Join(files, ", "))
		return
	}
	args := []string{"run", "./cmd/dygen", "verify"}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "-golden", abs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dygen verify of %d golden files without a checked-in layer failed: %v\n%s", len(files), err, out)
	}
	t.Logf("%d golden files without a checked-in layer pass dygen verify:\n%s", len(files), out)
}
