package verify

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func smallResult() *Result {
	// N=2, C=3, Ho=2, Wo=2.
	r := &Result{N: 2, C: 3, Ho: 2, Wo: 2}
	for i := range 24 {
		r.Y = append(r.Y, float64(i)-10)
		r.Bound = append(r.Bound, 0.01)
	}
	return r
}

func TestCompare(t *testing.T) {
	r := smallResult()
	got := toFloat32(r.Y)
	if err := Compare(got, r); err != nil {
		t.Fatalf("exact result: %v", err)
	}
	got[5] += 0.009 // within the bound
	if err := Compare(got, r); err != nil {
		t.Fatalf("result within the bound: %v", err)
	}
	got[17] += 0.02 // (n=1, c=1, y=0, x=1)
	got[22] -= 0.5  // (n=1, c=2, y=1, x=0): the worst
	err := Compare(got, r)
	if err == nil {
		t.Fatal("Compare passed a result outside the bound")
	}
	msg := err.Error()
	for _, want := range []string{
		"2 of 24 outputs outside the error bound",
		"first at (n=1, c=1, y=0, x=1): got 7.02",
		"want 7, |err| 0.02, bound 0.01",
		"worst at (n=1, c=2, y=1, x=0): got 11.5, want 12",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	rep := Measure(got, r)
	if rep.Bad != 2 || math.Abs(rep.MaxAbsErr-0.5) > 1e-6 || math.Abs(rep.WorstRatio-50) > 1e-4 || math.Abs(rep.MaxRelErr-0.5/13) > 1e-7 {
		t.Errorf("Measure = %+v", rep)
	}

	// Non-finite values always fail, even with an infinite bound.
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		got := toFloat32(r.Y)
		got[3] = v
		r2 := *r
		r2.Bound = append([]float64(nil), r.Bound...)
		r2.Bound[3] = math.Inf(1)
		if err := Compare(got, &r2); err == nil || !strings.Contains(err.Error(), "1 of 24") || !strings.Contains(err.Error(), "(n=0, c=0, y=1, x=1)") {
			t.Errorf("got[3] = %v: Compare error %v", v, err)
		}
		if rep := Measure(got, &r2); rep.Bad != 1 || !math.IsInf(rep.MaxAbsErr, 1) || !math.IsInf(rep.WorstRatio, 1) {
			t.Errorf("got[3] = %v: Measure = %+v", v, rep)
		}
	}

	// Length mismatch.
	if err := Compare(got[:23], r); err == nil || !strings.Contains(err.Error(), "got 23 outputs, want 24 (N=2, C=3, Ho=2, Wo=2)") {
		t.Errorf("short result: %v", err)
	}
	if rep := Measure(toFloat32(r.Y)[:20], r); rep.Bad != 4 {
		t.Errorf("Measure of a short result: %+v", rep)
	}
	if err := Compare(nil, nil); err == nil {
		t.Error("Compare with no reference passed")
	}

	// A zero bound allows only an exact match; C is derived when unset.
	r3 := &Result{Y: []float64{1, 2}, Bound: []float64{0, 0}, N: 1, Ho: 1, Wo: 1}
	if err := Compare([]float32{1, 2}, r3); err != nil {
		t.Errorf("exact match against a zero bound: %v", err)
	}
	if err := Compare([]float32{1, 2.0000002}, r3); err == nil || !strings.Contains(err.Error(), "(n=0, c=1, y=0, x=0)") {
		t.Errorf("zero bound: %v", err)
	}
	if rep := Measure([]float32{0, 0}, &Result{Y: []float64{0, 0}, Bound: []float64{0, 0}}); rep != (Report{}) {
		t.Errorf("Measure of zeros = %+v", rep)
	}
}

func TestIndex(t *testing.T) {
	r := &Result{N: 2, C: 3, Ho: 4, Wo: 5, Y: make([]float64, 120)}
	i := 0
	for n := range 2 {
		for c := range 3 {
			for y := range 4 {
				for x := range 5 {
					if gn, gc, gy, gx := r.Index(i); gn != n || gc != c || gy != y || gx != x {
						t.Fatalf("Index(%d) = %d %d %d %d, want %d %d %d %d", i, gn, gc, gy, gx, n, c, y, x)
					}
					i++
				}
			}
		}
	}
}

func TestGamma(t *testing.T) {
	if g := gamma(1); math.Abs(g-Unit/(1-Unit)) > 0 {
		t.Errorf("gamma(1) = %v", g)
	}
	if !math.IsInf(gamma(1<<24), 1) || !math.IsInf(gamma(1<<30), 1) {
		t.Error("gamma does not saturate at n·u ≥ 1")
	}
	if gamma(0) != 0 {
		t.Error("gamma(0) != 0")
	}
}

// TestBoundIsSane checks properties of the bounds: positive, finite,
// covering the float32 rounding of Y itself, and a small fraction of the
// output's scale.
func TestBoundIsSane(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for range 100 {
		p, _, _, _, _, _, r := randomReference(t, rng)
		maxY := maxAbs(r.Y)
		for i, b := range r.Bound {
			if !(b > 0) || math.IsInf(b, 0) {
				t.Fatalf("%v: bound[%d] = %v", p, i, b)
			}
			if d := math.Abs(float64(float32(r.Y[i])) - r.Y[i]); d > b {
				t.Fatalf("%v: bound[%d] = %v is below the rounding of y (%v)", p, i, b, d)
			}
			if b > 0.05*maxY {
				t.Fatalf("%v: bound[%d] = %v is %.2g of max|y|", p, i, b, b/maxY)
			}
		}
	}
}
