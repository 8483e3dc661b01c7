package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dygen/dygen/examples/blocks/internal/blockmain"
)

// TestBlock runs the block on its golden file and checks it against
// PyTorch's float64 output, as the command does.
func TestBlock(t *testing.T) {
	path, err := blockmain.GoldenOrSkip(Block.Name)
	if err != nil {
		t.Fatal(err)
	}
	if path == "" {
		t.Skip("no golden block file (../shared/golden-blocks or $DYGEN_GOLDEN_BLOCKS)")
	}
	r, err := blockmain.Check(Block, path, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max error %.3g (%.3g relative)", r.Abs, r.Rel)
	if !(r.Rel <= 1e-5) {
		t.Errorf("relative error %.3g, want ≤ 1e-5", r.Rel)
	}
}

// TestMainErrors checks that a bad weights file or flag is an error, not a
// panic, and that the message names the problem.
func TestMainErrors(t *testing.T) {
	path, err := blockmain.GoldenOrSkip(Block.Name)
	if err != nil {
		t.Fatal(err)
	}
	if path == "" {
		t.Skip("no golden block file")
	}
	var out, errOut bytes.Buffer
	if code := blockmain.Main(Block, []string{"-golden", path, "-weights", "does-not-exist.safetensors"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "does-not-exist.safetensors") {
		t.Errorf("missing weights: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := blockmain.Main(Block, []string{"-bogus"}, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := blockmain.Main(Block, []string{"-golden", path, "-iters", "0", "-tol", "0"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "beyond the tolerance") {
		t.Errorf("zero tolerance: exit %d, stderr %q", code, errOut.String())
	}
}
