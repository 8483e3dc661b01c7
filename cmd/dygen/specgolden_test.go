package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dygen/dygen/verify"
)

func TestGoIdent(t *testing.T) {
	for in, want := range map[string]string{
		"case003":    "Case003",
		"Case003":    "Case003",
		"my-layer.1": "Mylayer1",
		"_x":         "X",
		"1abc":       "Abc",
		"ü":          "",
		"":           "",
	} {
		assert.Equal(t, want, goIdent(in), "goIdent(%q)", in)
	}
}

// TestSpecFromGoldens checks the spec verify makes without -spec: one
// layer per file, its hyperparameters and size, unique names.
func TestSpecFromGoldens(t *testing.T) {
	a := &verify.Golden{Name: "case001", Params: verify.Params{InC: 2, OutC: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 2}, H: 5, W: 6}
	b := &verify.Golden{Name: "case001", Params: a.Params, H: 7, W: 7}
	c := &verify.Golden{Name: "--", Params: a.Params, H: 3, W: 3}
	s := specFromGoldens([]*verify.Golden{a, b, c})
	require.Len(t, s.Layers, 3)
	assert.Equal(t, "Case001", s.Layers[0].Name)
	assert.Equal(t, "Case001_2", s.Layers[1].Name)
	assert.Equal(t, "Golden002", s.Layers[2].Name)
	assert.Equal(t, 7, s.Layers[1].InputH)
	assert.Equal(t, a.Params, s.Layers[0].Params)
	for i, l := range s.Layers {
		assert.True(t, goldenMatches([]*verify.Golden{a, b, c}[i], l), "layer %d matches its file", i)
	}
}

// TestVerifyWithoutSpec runs dygen verify on real golden files of both
// sets with no spec: every file gets a layer and passes.
func TestVerifyWithoutSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates and tests a module")
	}
	seed, ok1 := verify.GoldenDir()
	fam, ok2 := verify.GoldenFamilyDir()
	if !ok1 || !ok2 {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			t.Fatal("DYGEN_REQUIRE_GOLDEN=1 but the golden directories are missing")
		}
		t.Skip("golden directories missing")
	}
	files := []string{filepath.Join(seed, "case014.safetensors"), filepath.Join(fam, "case040.safetensors"), filepath.Join(fam, "case021.safetensors")}
	args := []string{"verify"}
	for _, f := range files {
		args = append(args, "-golden", f)
	}
	code, stdout, stderr := runCLI(t, args...)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "3 of 3 golden files matched a layer")
}
