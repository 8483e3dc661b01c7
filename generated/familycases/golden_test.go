package familycases

// This file is written by hand; the rest of the package is generated from
// ../golden-family.yaml.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/verify"
)

// TestMain points the generated golden tests at the PyTorch golden cases
// (../shared/golden-family beside the checkout, or $DYGEN_GOLDEN_FAMILY_DIR) unless
// $DYGEN_GOLDEN already names files.
func TestMain(m *testing.M) {
	if os.Getenv("DYGEN_GOLDEN") == "" {
		if dir, ok := verify.GoldenFamilyDir(); ok {
			os.Setenv("DYGEN_GOLDEN", dir)
		}
	}
	os.Exit(m.Run())
}

// TestEveryGoldenCaseHasALayer checks that each golden file is matched by
// the layer of ../golden-family.yaml named after it, so that no case goes unrun.
func TestEveryGoldenCaseHasALayer(t *testing.T) {
	files, err := verify.GoldenEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			t.Fatal("no golden files found and DYGEN_REQUIRE_GOLDEN=1: put the cases in ../shared/golden-family beside the checkout or set DYGEN_GOLDEN_FAMILY_DIR")
		}
		t.Skip("no golden files found (../shared/golden-family beside the checkout, or DYGEN_GOLDEN_FAMILY_DIR)")
	}
	spec, err := gen.LoadSpec(filepath.Join("..", "golden-family.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]gen.Layer{}
	for _, l := range spec.Layers {
		layers[l.Name] = l
	}
	for _, path := range files {
		g, err := verify.LoadGolden(path)
		if err != nil {
			t.Fatal(err)
		}
		l, ok := layers[g.Name]
		if !ok {
			t.Errorf("%s: no layer named %s in golden-family.yaml", path, g.Name)
			continue
		}
		if !g.Matches(l.Params, l.InputH, l.InputW) {
			t.Errorf("%s: layer %s of golden-family.yaml has %v at %dx%d, the case %v at %dx%d", path, l.Name, l.Params, l.InputH, l.InputW, g.Params, g.H, g.W)
		}
	}
}
