package verify

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestReferenceHandComputed(t *testing.T) {
	// Routing: zero FC weights, FC bias [0, ln 3] → π = [1/4, 3/4];
	// W' = 2/4 + 6·3/4 = 5, so y = 5x + 1.
	p := Params{InC: 1, OutC: 1, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 2, Bias: true, Mode: Zeros}
	w := Weights{Weight: []float32{2, 6}, Bias: []float32{1}, FCWeight: []float32{0, 0}, FCBias: []float32{0, float32(math.Log(3))}}
	r, err := Reference(p, w, []float32{1, 2, 3, 4}, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{6, 11, 16, 21} {
		if math.Abs(r.Y[i]-want) > 1e-6 {
			t.Errorf("y[%d] = %v, want %v", i, r.Y[i], want)
		}
	}
	if math.Abs(r.Pi[0]-0.25) > 1e-7 || math.Abs(r.Pi[1]-0.75) > 1e-7 {
		t.Errorf("pi = %v, want [0.25 0.75]", r.Pi)
	}
	if r.N != 1 || r.Ho != 2 || r.Wo != 2 || r.C != 1 {
		t.Errorf("sizes N=%d Ho=%d Wo=%d C=%d", r.N, r.Ho, r.Wo, r.C)
	}

	// Padding modes: a 1×3 kernel [1 10 100], one column of padding each
	// side, input [1 2 3].
	p = Params{InC: 1, OutC: 1, KH: 1, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadL: 1, PadR: 1, Groups: 1, K: 1}
	w = Weights{Weight: []float32{1, 10, 100}, FCWeight: []float32{0.5}, FCBias: []float32{3}}
	for mode, want := range map[string][]float64{
		Zeros:     {210, 321, 32},
		Reflect:   {212, 321, 232},
		Replicate: {211, 321, 332},
		Circular:  {213, 321, 132},
	} {
		p.Mode = mode
		r, err := Reference(p, w, []float32{1, 2, 3}, 1, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if r.Y[i] != want[i] {
				t.Errorf("%s: y = %v, want %v", mode, r.Y, want)
				break
			}
		}
		ytr, err := ReferenceTraining(p, w, []float32{1, 2, 3}, 1, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if ytr[i] != want[i] {
				t.Errorf("%s: training form y = %v, want %v", mode, ytr, want)
				break
			}
		}
	}

	// Stride 2, dilation 2, asymmetric padding, 2 groups: out channel 1
	// reads input channel 1 only.
	p = Params{InC: 2, OutC: 2, KH: 1, KW: 2, SH: 1, SW: 2, DH: 1, DW: 2, PadL: 2, PadR: 0, Groups: 2, K: 1, Mode: Zeros}
	w = Weights{Weight: []float32{1, 0, 0, 1}, FCWeight: make([]float32, 4), FCBias: make([]float32, 2)}
	x := []float32{1, 2, 3, 4, 5, 10, 20, 30, 40, 50}
	// Padded width 7; taps at 2·ox−2 and 2·ox; ho×wo = 1×3.
	r, err = Reference(p, w, x, 1, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0, 1, 3, 10, 30, 50}; !slices.Equal(r.Y, want) {
		t.Errorf("strided grouped y = %v, want %v", r.Y, want)
	}
}

func TestReferenceErrors(t *testing.T) {
	p := Params{InC: 2, OutC: 2, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 2, Bias: true, Mode: Reflect}
	rng := rand.New(rand.NewPCG(1, 2))
	w := RandomWeights(p, rng)
	x := RandomInput(1, 2*4*4, rng)
	if _, err := Reference(p, w, x, 1, 4, 4); err != nil {
		t.Fatal(err)
	}
	bad := func(name, want string, p Params, w Weights, x []float32, n, h, wd int) {
		t.Helper()
		_, err := Reference(p, w, x, n, h, wd)
		_, err2 := ReferenceTraining(p, w, x, n, h, wd)
		if err == nil || err2 == nil || !strings.Contains(err.Error(), want) || err.Error() != err2.Error() {
			t.Errorf("%s: errors %v / %v, want %q", name, err, err2, want)
		}
	}
	q := p
	q.Groups = 3
	bad("groups", "not divisible", q, w, x, 1, 4, 4)
	bad("short input", "input has 31 elements, want 32", p, w, x[:31], 1, 4, 4)
	bad("batch", "input has 32 elements, want 64", p, w, x, 2, 4, 4)
	bad("negative batch", "batch size must be non-negative", p, w, x, -1, 4, 4)
	bad("reflect", "reflect padding", p, w, x[:2], 1, 1, 1)
	w2 := w
	w2.Bias = nil
	bad("bias", "Bias has 0 elements, want 2", p, w2, x, 1, 4, 4)
	w3 := w
	w3.FCWeight = append([]float32(nil), w.FCWeight...)
	w3.FCWeight[3] = float32(math.NaN())
	bad("nan", "FCWeight[3] is NaN", p, w3, x, 1, 4, 4)
	x2 := append([]float32(nil), x...)
	x2[5] = float32(math.Inf(-1))
	bad("inf", "input[5] is -Inf", p, w, x2, 1, 4, 4)
	huge := Params{InC: 1 << 20, OutC: 1 << 20, KH: 1 << 20, KW: 1 << 20, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 1 << 20, Mode: Zeros}
	bad("overflow", "overflows", huge, Weights{}, nil, 1, 1<<20, 1<<20)
	big := Params{InC: 1, OutC: 1 << 10, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 1, Mode: Zeros}
	bad("too large", "too large", big, RandomWeights(big, rng), make([]float32, 1<<20), 1, 1<<10, 1<<10)

	// An empty batch is valid.
	r, err := Reference(p, w, nil, 0, 4, 4)
	if err != nil || len(r.Y) != 0 {
		t.Errorf("empty batch: %v, %v", r, err)
	}
}

// TestReferenceTrainingAgrees checks the fused formulation against the
// paper's training-time form on random layers of every kind.
func TestReferenceTrainingAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		p, w, x, n, h, wd, r := randomReference(t, rng)
		ytr, err := ReferenceTraining(p, w, x, n, h, wd)
		if err != nil {
			t.Fatal(err)
		}
		maxY := maxAbs(r.Y)
		for i := range ytr {
			if d := math.Abs(ytr[i] - r.Y[i]); d > 1e-12*maxY {
				t.Fatalf("%v %dx%d: element %d: fused %v, training %v (rel diff %.2g)", p, h, wd, i, r.Y[i], ytr[i], d/maxY)
			}
		}
		// π is a distribution over the experts for every output channel.
		for s := range n {
			for o := range p.OutC {
				sum := 0.0
				for k := range p.K {
					sum += r.Pi[(s*p.K+k)*p.OutC+o]
				}
				if math.Abs(sum-1) > 1e-12 {
					t.Fatalf("%v: Σπ = %v", p, sum)
				}
			}
		}
	}
}

// TestFloat32Passes runs the plain float32 forward, in every evaluation
// order, on many random layers: a correct float32 implementation must never
// fail Compare.
func TestFloat32Passes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	worst := 0.0
	cases := 400
	if testing.Short() {
		cases = 100
	}
	for range cases {
		p, w, x, n, h, wd, r := randomReference(t, rng)
		for ord := range numOrders {
			got := forward32(p, w, x, n, h, wd, ord, rng)
			if err := Compare(got, r); err != nil {
				t.Fatalf("%v %dx%d, %v order: %v", p, h, wd, ord, err)
			}
			worst = math.Max(worst, Measure(got, r).WorstRatio)
		}
	}
	t.Logf("worst |err|/bound over %d cases × %d orders: %.3g", cases, numOrders, worst)
}

// TestFloat32PassesHard stresses the bound where it is tightest relative to
// the data: cancellation (outputs near zero), large accumulation lengths,
// a single expert, peaked routing, tiny and huge magnitudes.
func TestFloat32PassesHard(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	scale := func(v []float32, s float32) {
		for i := range v {
			v[i] *= s
		}
	}
	for i := range 60 {
		p, n, h, wd := randomCase(rng)
		if i%3 == 0 {
			p = Params{InC: 64, OutC: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 4, Bias: true, Mode: Reflect}
			n, h, wd = 1, 6, 5
		}
		w := RandomWeights(p, rng)
		x := RandomInput(n, p.InC*h*wd, rng)
		switch i % 5 {
		case 1: // inputs that cancel: all positive, weights centred
			for j := range x {
				x[j] = 1 + x[j]*1e-3
			}
		case 2: // peaked routing
			scale(w.FCBias, 30)
			scale(w.FCWeight, 30)
		case 3: // tiny values (near the subnormal range)
			scale(x, 1e-30)
			scale(w.Weight, 1e-8)
			if w.Bias != nil {
				scale(w.Bias, 1e-38)
			}
		case 4: // large values
			scale(x, 1e15)
			scale(w.Weight, 1e15)
			if w.Bias != nil {
				scale(w.Bias, 1e30)
			}
		}
		r, err := Reference(p, w, x, n, h, wd)
		if err != nil {
			t.Fatal(err)
		}
		for ord := range numOrders {
			got := forward32(p, w, x, n, h, wd, ord, rng)
			if err := Compare(got, r); err != nil {
				t.Fatalf("case %d %v %dx%d, %v order: %v", i, p, h, wd, ord, err)
			}
		}
	}
}

// contributions returns, for output (s, o, oy, ox), the terms W'[t]·x_t of
// its taps (0 for a zero-padding tap) and, for each tap, the term it would
// give if it read the input one column to the right (a wrong-tap bug).
func contributions(p Params, w Weights, pi []float64, x []float32, h, wd, s, o, oy, ox int) (terms, shifted []float64) {
	taps := p.Taps()
	g := o / p.OutPerGroup()
	xs := x[s*p.InC*h*wd:]
	for ci := range p.InPerGroup() {
		c := g*p.InPerGroup() + ci
		for kh := range p.KH {
			for kw := range p.KW {
				t := (ci*p.KH+kh)*p.KW + kw
				wf := 0.0
				for k := range p.K {
					wf += pi[(s*p.K+k)*p.OutC+o] * float64(w.Weight[(k*p.OutC+o)*taps+t])
				}
				iy := MapIndex(p.Mode, oy*p.SH-p.PadT+kh*p.DH, h)
				ix := MapIndex(p.Mode, ox*p.SW-p.PadL+kw*p.DW, wd)
				jx := MapIndex(p.Mode, ox*p.SW-p.PadL+kw*p.DW+1, wd)
				var a, b float64
				if iy >= 0 && ix >= 0 {
					a = wf * float64(xs[(c*h+iy)*wd+ix])
				}
				if iy >= 0 && jx >= 0 {
					b = wf * float64(xs[(c*h+iy)*wd+jx])
				}
				terms = append(terms, a)
				shifted = append(shifted, b)
			}
		}
	}
	return terms, shifted
}

func toFloat32(y []float64) []float32 {
	out := make([]float32, len(y))
	for i, v := range y {
		out[i] = float32(v)
	}
	return out
}

// bugStats counts, for one kind of bug, how often it was applied and how
// often Compare caught it.
type bugStats struct{ tried, caught int }

func (b *bugStats) record(t *testing.T, name string, got []float32, r *Result, mustFail bool) {
	t.Helper()
	b.tried++
	if err := Compare(got, r); err != nil {
		b.caught++
	} else if mustFail {
		t.Errorf("%s: Compare passed a result that is off by more than the bound", name)
	}
}

// TestCorruptionsFail checks that the bound is tight enough to catch real
// bugs: one dropped tap, one wrong tap, swapped output channels, a stale
// output, padding done with zeros instead of the layer's mode, uniform
// routing, a missing bias, a transposed kernel, pooling by sum instead of
// mean. Each bug is applied to a float32 result of the correct computation
// (or computed through the reference with the bug), and must fail Compare
// whenever it moves some output by more than the error bound allows, which,
// the stats show, is nearly always.
func TestCorruptionsFail(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	stats := map[string]*bugStats{}
	st := func(name string) *bugStats {
		if stats[name] == nil {
			stats[name] = &bugStats{}
		}
		return stats[name]
	}
	// exceeds reports whether a buggy result differs from the correct
	// one by more than 1.5 bounds somewhere (so that the float32 noise,
	// well under one bound, cannot hide it).
	exceeds := func(bug []float64, r *Result) bool {
		for i := range bug {
			if math.Abs(bug[i]-r.Y[i]) > 1.5*r.Bound[i] {
				return true
			}
		}
		return false
	}
	for c := range 300 {
		p, n, h, wd := randomCase(rng)
		if c%10 == 0 { // some larger layers too
			p = Params{InC: 32, OutC: 8, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 4, Bias: true, Mode: Replicate}
			n, h, wd = 1, 7, 6
		}
		w := RandomWeights(p, rng)
		x := RandomInput(n, p.InC*h*wd, rng)
		r, err := Reference(p, w, x, n, h, wd)
		if err != nil {
			t.Fatal(err)
		}
		good := forward32(p, w, x, n, h, wd, order(c%int(numOrders)), rng)
		if err := Compare(good, r); err != nil {
			t.Fatal(err)
		}
		total := len(r.Y)

		// One output: drop its largest tap, drop a random non-zero
		// tap, or read a tap one column off.
		i := rng.IntN(total)
		s, o, oy, ox := r.Index(i)
		terms, shifted := contributions(p, w, r.Pi, x, h, wd, s, o, oy, ox)
		big, nz := 0, []int{}
		for t, v := range terms {
			if math.Abs(v) > math.Abs(terms[big]) {
				big = t
			}
			if v != 0 {
				nz = append(nz, t)
			}
		}
		bad := append([]float32(nil), good...)
		bad[i] = float32(float64(good[i]) - terms[big])
		st("drop largest tap").record(t, "drop largest tap", bad, r, math.Abs(terms[big]) > 2*r.Bound[i])
		if len(nz) > 0 {
			tp := nz[rng.IntN(len(nz))]
			bad[i] = float32(float64(good[i]) - terms[tp])
			st("drop a random tap").record(t, "drop a random tap", bad, r, math.Abs(terms[tp]) > 2*r.Bound[i])
			d := shifted[tp] - terms[tp]
			bad[i] = float32(float64(good[i]) + d)
			if d != 0 {
				st("one wrong tap").record(t, "one wrong tap", bad, r, math.Abs(d) > 2*r.Bound[i])
			}
		}

		// Two output channels swapped, at one position and everywhere.
		if p.OutC > 1 {
			c1 := rng.IntN(p.OutC)
			c2 := (c1 + 1 + rng.IntN(p.OutC-1)) % p.OutC
			plane := r.Ho * r.Wo
			j1 := (s*p.OutC+c1)*plane + oy*r.Wo + ox
			j2 := (s*p.OutC+c2)*plane + oy*r.Wo + ox
			bad := append([]float32(nil), good...)
			bad[j1], bad[j2] = good[j2], good[j1]
			d := math.Abs(r.Y[j1] - r.Y[j2])
			st("swap two outputs").record(t, "swap two outputs", bad, r, d > 2*r.Bound[j1] || d > 2*r.Bound[j2])
			swapped := append([]float32(nil), good...)
			for q := range plane {
				a, b := (s*p.OutC+c1)*plane+q, (s*p.OutC+c2)*plane+q
				swapped[a], swapped[b] = good[b], good[a]
			}
			st("swap two channels").record(t, "swap two channels", swapped, r, false)
		}

		// The output of another input (a stale buffer).
		x2 := RandomInput(n, p.InC*h*wd, rng)
		r2, _ := Reference(p, w, x2, n, h, wd)
		st("stale output").record(t, "stale output", toFloat32(r2.Y), r, exceeds(r2.Y, r))

		// Bugs in the computation, through the reference.
		mutated := func(name string, p2 Params, w2 Weights, x2 []float32) {
			rb, err := Reference(p2, w2, x2, n, h, wd)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(rb.Y, r.Y) {
				return // the bug does not change this layer's result
			}
			st(name).record(t, name, toFloat32(rb.Y), r, exceeds(rb.Y, r))
		}
		if p.Mode != Zeros && p.PadT+p.PadB+p.PadL+p.PadR > 0 {
			pz := p
			pz.Mode = Zeros
			mutated("zero padding instead of "+p.Mode, pz, w, x)
		}
		if p.K > 1 {
			wu := w
			wu.FCWeight = make([]float32, len(w.FCWeight))
			wu.FCBias = make([]float32, len(w.FCBias))
			mutated("uniform routing", p, wu, x)
		}
		if p.Bias {
			wb := w
			wb.Bias = make([]float32, len(w.Bias))
			mutated("missing bias", p, wb, x)
		}
		if p.KH == p.KW && p.KH > 1 {
			wt := w
			wt.Weight = append([]float32(nil), w.Weight...)
			for base := 0; base < len(wt.Weight); base += p.KH * p.KW {
				for a := range p.KH {
					for b := range p.KW {
						wt.Weight[base+a*p.KW+b] = w.Weight[base+b*p.KW+a]
					}
				}
			}
			mutated("transposed kernel", p, wt, x)
		}
		if h*wd > 1 {
			// Pooling by sum instead of mean: the FC sees H·W times the
			// pooled value; emulate by scaling the FC weights.
			ws := w
			ws.FCWeight = append([]float32(nil), w.FCWeight...)
			for j := range ws.FCWeight {
				ws.FCWeight[j] *= float32(h * wd)
			}
			mutated("pooling by sum", p, ws, x)
		}
	}
	names := make([]string, 0, len(stats))
	for name := range stats {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := stats[name]
		t.Logf("%-32s caught %4d of %4d", name, s.caught, s.tried)
		if name != "drop a random tap" && name != "one wrong tap" && s.caught*100 < s.tried*95 {
			t.Errorf("%s: caught only %d of %d", name, s.caught, s.tried)
		}
	}
}

// TestBoundTightness measures how often dropping one random tap of one
// output is caught, as the accumulation length L grows: the worst-case bound
// grows like L²·u times the average term, so single-term bugs are caught
// reliably up to L of several hundred and less and less beyond (bugs that
// touch many outputs are still caught, through the outputs where the
// dropped term is large).
func TestBoundTightness(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		cin     int
		minRate float64
	}{{8, 0.95}, {32, 0.9}, {64, 0.75}, {128, 0.3}, {512, 0}} {
		p := Params{InC: c.cin, OutC: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 4, Bias: true, Mode: Zeros}
		const h, wd = 6, 6
		w := RandomWeights(p, rng)
		x := RandomInput(1, c.cin*h*wd, rng)
		r, err := Reference(p, w, x, 1, h, wd)
		if err != nil {
			t.Fatal(err)
		}
		got := forward32(p, w, x, 1, h, wd, orderFused, nil)
		caught, tried := 0, 0
		for range 300 {
			i := rng.IntN(len(r.Y))
			s, o, oy, ox := r.Index(i)
			terms, _ := contributions(p, w, r.Pi, x, h, wd, s, o, oy, ox)
			tp := rng.IntN(len(terms))
			if terms[tp] == 0 {
				continue
			}
			bad := append([]float32(nil), got...)
			bad[i] = float32(float64(got[i]) - terms[tp])
			tried++
			if Compare(bad, r) != nil {
				caught++
			}
		}
		rate := float64(caught) / float64(tried)
		t.Logf("L = %4d: one dropped tap caught in %3d of %3d outputs", p.Taps(), caught, tried)
		if rate < c.minRate {
			t.Errorf("L = %d: caught %.0f%%, want at least %.0f%%", p.Taps(), 100*rate, 100*c.minRate)
		}
	}
}
