package verify

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func finiteWithin(t *testing.T, name string, v []float32, bound float64) {
	t.Helper()
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || math.Abs(float64(x)) > bound {
			t.Fatalf("%s[%d] = %v, want finite within ±%v", name, i, x, bound)
		}
	}
}

func TestRandomWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for range 50 {
		p, n, h, wd := randomCase(rng)
		w := RandomWeights(p, rng)
		if err := p.CheckWeights(w); err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		if (w.Bias == nil) == p.Bias {
			t.Fatalf("%v: bias %v", p, w.Bias)
		}
		finiteWithin(t, "Weight", w.Weight, math.Sqrt(6/float64(p.Taps())))
		finiteWithin(t, "FCWeight", w.FCWeight, 2/math.Sqrt(float64(p.InC)))
		x := RandomInput(n, p.InC*h*wd, rng)
		if len(x) != n*p.InC*h*wd {
			t.Fatalf("RandomInput length %d, want %d", len(x), n*p.InC*h*wd)
		}
		finiteWithin(t, "input", x, 2)
	}

	// The routing is neither uniform nor one-hot on typical layers.
	p := Params{InC: 16, OutC: 16, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 4, Bias: true, Mode: Zeros}
	w := RandomWeights(p, rng)
	r, err := Reference(p, w, RandomInput(4, 16*8*8, rng), 4, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 1.0, 0.0
	for _, pi := range r.Pi {
		lo, hi = math.Min(lo, pi), math.Max(hi, pi)
	}
	if lo < 1e-3 || hi > 0.95 || hi-lo < 0.2 {
		t.Errorf("routing coefficients span [%.3g, %.3g]: degenerate", lo, hi)
	}
	// Samples route differently.
	if d := math.Abs(r.Pi[0] - r.Pi[len(r.Pi)-p.K*p.OutC]); d < 1e-4 {
		t.Errorf("samples 0 and 3 route alike (Δπ = %v)", d)
	}
}

func TestFromBytes(t *testing.T) {
	p := Params{InC: 4, OutC: 6, KH: 3, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 2, K: 3, Bias: true, Mode: Circular}
	for _, b := range [][]byte{nil, {}, {0}, {255}, {1, 2, 3}, make([]byte, 1000)} {
		w := WeightsFromBytes(p, b)
		if err := p.CheckWeights(w); err != nil {
			t.Fatalf("%v: %v", b, err)
		}
		finiteWithin(t, "Weight", w.Weight, 1)
		finiteWithin(t, "Bias", w.Bias, 1)
		finiteWithin(t, "FCWeight", w.FCWeight, 1)
		finiteWithin(t, "FCBias", w.FCBias, 1)
		if !reflect.DeepEqual(w, WeightsFromBytes(p, b)) {
			t.Fatal("WeightsFromBytes is not deterministic")
		}
		x := InputFromBytes(100, b)
		if len(x) != 100 || !reflect.DeepEqual(x, InputFromBytes(100, b)) {
			t.Fatal("InputFromBytes: wrong length or not deterministic")
		}
		finiteWithin(t, "input", x, 1)
	}
	// A single byte still gives varied values, and bytes steer values.
	x := InputFromBytes(64, []byte{7})
	distinct := map[float32]bool{}
	for _, v := range x {
		distinct[v] = true
	}
	if len(distinct) < 8 {
		t.Errorf("InputFromBytes(64, [7]) has only %d distinct values", len(distinct))
	}
	if x := InputFromBytes(3, []byte{128, 0, 192}); x[0] != 0 || x[1] != -1 || x[2] != 0.5 {
		t.Errorf("InputFromBytes([128 0 192]) = %v, want [0 -1 0.5]", x)
	}
	q := p
	q.Bias = false
	if w := WeightsFromBytes(q, nil); w.Bias != nil {
		t.Error("bias for a layer without one")
	}
	if len(InputFromBytes(-1, nil)) != 0 || len(RandomInput(-1, 5, rand.New(rand.NewPCG(1, 1)))) != 0 {
		t.Error("negative sizes")
	}
}

// FuzzFloat32Bound derives a layer, its weights and an input from the fuzz
// bytes and checks that the plain float32 forward passes Compare in every
// evaluation order: the error bound must hold for all inputs.
func FuzzFloat32Bound(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{200, 100, 0})
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}, []byte{255, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{128})
	modes := []string{Zeros, Reflect, Replicate, Circular}
	f.Fuzz(func(t *testing.T, spec, data []byte) {
		at := func(i, n int) int {
			if i < len(spec) {
				return int(spec[i]) % n
			}
			return 0
		}
		g := 1 + at(0, 3)
		p := Params{
			InC: g * (1 + at(1, 3)), OutC: g * (1 + at(2, 3)),
			KH: 1 + at(3, 4), KW: 1 + at(4, 4), SH: 1 + at(5, 3), SW: 1 + at(6, 3),
			DH: 1 + at(7, 2), DW: 1 + at(8, 2),
			PadT: at(9, 3), PadB: at(10, 3), PadL: at(11, 3), PadR: at(12, 3),
			Groups: g, K: 1 + at(13, 4), Bias: at(14, 2) == 0, Mode: modes[at(15, 4)],
		}
		n, h, wd := 1+at(16, 2), 1+at(17, 9), 1+at(18, 9)
		if p.CheckInput(h, wd) != nil {
			return
		}
		w := WeightsFromBytes(p, data)
		x := InputFromBytes(n*p.InC*h*wd, append([]byte{0x5a}, data...))
		r, err := Reference(p, w, x, n, h, wd)
		if err != nil {
			t.Fatalf("%v %dx%d: %v", p, h, wd, err)
		}
		for ord := range numOrders {
			if ord == orderShuffled {
				continue
			}
			if err := Compare(forward32(p, w, x, n, h, wd, ord, nil), r); err != nil {
				t.Fatalf("%v %dx%d, %v order: %v", p, h, wd, ord, err)
			}
		}
	})
}
