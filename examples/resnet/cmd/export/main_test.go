package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dygen/dygen/dyrt"
)

func TestExport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	var out, errOut bytes.Buffer
	if code := run([]string{"-out", path, "-seed", "5"}, &out, &errOut); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, errOut.String())
	}
	if !strings.Contains(out.String(), path) {
		t.Errorf("output does not name the file: %q", out.String())
	}
	f, err := dyrt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Has("layer1.0.conv1.weight") || !f.Has("layer1.0.conv1._coefficient_fn.fc.bias") {
		t.Errorf("tensors %q lack the PyTorch names", f.Names())
	}

	if code := run([]string{"extra"}, &out, &errOut); code != 2 {
		t.Errorf("export with an argument: exit %d, want 2", code)
	}
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "w.safetensors")
	errOut.Reset()
	if code := run([]string{"-out", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no") {
		t.Errorf("export to a missing directory: exit %d, stderr %q", code, errOut.String())
	}
}
