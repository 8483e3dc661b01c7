package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dygen/dygen/examples/resnet/model"
)

func TestRunDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-n", "2", "-iters", "1"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"demo weights", "Conv3x3", "Project1x1", "Depthwise3x3",
		"[2 16 32 32] -> [2 16 32 32]", "[2 16 32 32] -> [2 32 16 16]", "[2 32 16 16] -> [2 32 16 16]", "checksum"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunWeightsFile checks that a weights file gives the same output as
// the demo weights it holds, and that a missing file is a clear error.
func TestRunWeightsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := model.WriteDemo(path, 7); err != nil {
		t.Fatal(err)
	}
	checksum := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(append(args, "-n", "1", "-iters", "1", "-seed", "7"), &out); err != nil {
			t.Fatalf("run %q: %v", args, err)
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "checksum") {
				return l
			}
		}
		t.Fatalf("no checksum in\n%s", out.String())
		return ""
	}
	if a, b := checksum("-weights", path), checksum(); a != b {
		t.Errorf("weights file and demo weights disagree:\n%s\n%s", a, b)
	}

	missing := filepath.Join(t.TempDir(), "missing.safetensors")
	err := run([]string{"-weights", missing}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "missing.safetensors") || !strings.Contains(err.Error(), "Conv3x3") {
		t.Errorf("missing weights file: err = %v, want one naming the file and the layer", err)
	}
}
