package goldencases

// This file is written by hand; the rest of the package is generated from
// ../golden.yaml.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/goldentest"
	"github.com/dygen/dygen/verify"
)

// TestMain points the generated golden tests at the PyTorch golden cases
// (../shared/golden beside the checkout, or $DYGEN_GOLDEN_DIR) unless
// $DYGEN_GOLDEN already names files.
func TestMain(m *testing.M) {
	if os.Getenv("DYGEN_GOLDEN") == "" {
		if dir, ok := verify.GoldenDir(); ok {
			os.Setenv("DYGEN_GOLDEN", dir)
		}
	}
	os.Exit(m.Run())
}

// TestEveryGoldenCaseHasALayer checks that no golden case goes unrun: each
// file is run by the layer of ../golden.yaml named after it (its generated
// TestXGolden), and the others by dygen verify.
func TestEveryGoldenCaseHasALayer(t *testing.T) {
	files, err := verify.GoldenEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			t.Fatal("no golden files found and DYGEN_REQUIRE_GOLDEN=1: put the cases in ../shared/golden beside the checkout or set DYGEN_GOLDEN_DIR")
		}
		t.Skip("no golden files found (../shared/golden beside the checkout, or DYGEN_GOLDEN_DIR)")
	}
	spec, err := gen.LoadSpec(filepath.Join("..", "golden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A case without its layer here (one added to the directory after
	// golden.yaml was written) runs through dygen verify instead, which
	// generates a layer for each such file.
	unmatched, err := goldentest.Unmatched(spec, files)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d golden files have their layer in golden.yaml", len(files)-len(unmatched), len(files))
	goldentest.Verify(t, filepath.Join("..", ".."), unmatched)
}
