package verify

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// familyFilesOrSkip returns the family's golden files, skipping the test
// when they are missing unless DYGEN_REQUIRE_GOLDEN=1.
func familyFilesOrSkip(t *testing.T) []string {
	t.Helper()
	return sharedFilesOrSkip(t, GoldenFamilyDir)
}

func sharedFilesOrSkip(t *testing.T, dirFn func() (string, bool)) []string {
	t.Helper()
	dir, ok := dirFn()
	var files []string
	if ok {
		var err error
		if files, err = GoldenFiles(dir); err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			t.Fatalf("no golden files in %q", dir)
		}
		t.Skipf("no golden files in %q", dir)
	}
	return files
}

// TestGoldenFamily checks the reference against every family case: the
// output against PyTorch's float64 output to GoldenRefTol, the routing
// coefficients against PyTorch's float32 ones, the training-time form
// against the fused one, and PyTorch's own float32 output within the
// bound.
func TestGoldenFamily(t *testing.T) {
	worst := 0.0
	for _, path := range familyFilesOrSkip(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, err := LoadGolden(path)
			if err != nil {
				t.Fatal(err)
			}
			if g.Params != g.Params.WithDefaults() {
				t.Errorf("Params %+v lack their defaults", g.Params)
			}
			r, err := ReferenceExtra(g.Params, g.Weights, g.Input, g.N, g.H, g.W, g.Extra())
			if err != nil {
				t.Fatal(err)
			}
			maxW, maxD := maxAbs(g.Want), 0.0
			for i, v := range g.Want {
				maxD = math.Max(maxD, math.Abs(r.Y[i]-v))
			}
			rel := maxD / math.Max(maxW, 1e-300)
			worst = math.Max(worst, rel)
			if maxD > GoldenRefTol*maxW {
				t.Errorf("reference vs output_f64: max |diff| %.3g > %.0e·max|y| (%.3g)", maxD, GoldenRefTol, maxW)
			}
			if len(g.Routing) != len(r.Routing) {
				t.Fatalf("routing has %d coefficients, the reference %d", len(g.Routing), len(r.Routing))
			}
			for i, v := range g.Routing {
				if d := math.Abs(float64(v) - r.Routing[i]); d > 1e-5 {
					t.Fatalf("routing[%d] = %v, reference %v (diff %.3g)", i, v, r.Routing[i], d)
				}
			}
			ytr, err := ReferenceTrainingExtra(g.Params, g.Weights, g.Input, g.N, g.H, g.W, g.Extra())
			if err != nil {
				t.Fatal(err)
			}
			for i := range ytr {
				if d := math.Abs(ytr[i] - r.Y[i]); d > 1e-12*math.Max(maxW, 1) {
					t.Fatalf("training form differs at %d: %v vs %v", i, ytr[i], r.Y[i])
				}
			}
			if err := CheckGolden(g, g.Output); err != nil {
				t.Errorf("PyTorch float32 output: %v", err)
			}
			rep := Measure(g.Output, r)
			t.Logf("%v: reference rel diff %.2g; PyTorch float32 rel err %.2g, worst |err|/bound %.2g", g.Params, rel, rep.MaxRelErr, rep.WorstRatio)
		})
	}
	t.Logf("worst relative difference of the reference from output_f64: %.3g", worst)
}

// TestGoldenBlocks runs the reference conv by conv over each golden block
// with the block's wiring and checks it against PyTorch's float64 output.
func TestGoldenBlocks(t *testing.T) {
	for _, path := range sharedFilesOrSkip(t, GoldenBlocksDir) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := LoadBlock(path)
			if err != nil {
				t.Fatal(err)
			}
			y, err := b.Reference()
			if err != nil {
				t.Fatal(err)
			}
			rel := maxRelDiff(y, b.Want)
			if rel > GoldenRefTol {
				t.Errorf("block reference vs output_f64: relative difference %.3g > %.0e", rel, GoldenRefTol)
			}
			if b.RoutingFn != "" {
				r, err := b.SharedRouting(widen(b.Input))
				if err != nil {
					t.Fatal(err)
				}
				if d := maxRelDiff(r, widen(b.Routing)); d > 1e-6 {
					t.Errorf("shared routing differs from the stored one by %.3g", d)
				}
			}
			t.Logf("%s (%d convs): reference vs output_f64 %.3g relative", b.Kind, len(b.Convs), rel)
		})
	}
}
