package verify

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// randomFamilyCase draws a random layer of the family: randomCase's
// geometry with a random routing (square geometry for dycnn and odconv,
// zero padding and no bias for odconv, one kernel for static), gate,
// temperature, attention width, BN, activation, residual and external
// routing.
func randomFamilyCase(rng *rand.Rand) (p Params, n, h, wd int) {
	for {
		p, n, h, wd = randomCase(rng)
		p.Routing = Routings[rng.IntN(len(Routings))]
		switch p.Routing {
		case DyNet:
			p.Gate = Gates[rng.IntN(len(Gates))]
		case DyCNN, ODConv:
			p.Temperature = []float64{1, 4, 34}[rng.IntN(3)]
			if rng.IntN(2) == 0 {
				p.AttnC = 1 + rng.IntN(8)
			}
			p.KW, p.SW, p.DW = p.KH, p.SH, p.DH
			p.PadB, p.PadL, p.PadR = p.PadT, p.PadT, p.PadT
			if p.Routing == ODConv {
				p.Mode, p.Bias = Zeros, false
			}
		case Static:
			p.K = 1
		}
		if p.BatchNorm = rng.IntN(2) == 0; p.BatchNorm {
			p.BNEps = []float64{1e-5, 1e-3}[rng.IntN(2)]
		}
		p.Activation = Activations[rng.IntN(len(Activations))]
		p.Residual = rng.IntN(3) == 0
		p.ExternalRouting = p.Routing != Static && rng.IntN(6) == 0
		p = p.WithDefaults()
		if p.Check() == nil && p.CheckInput(h, wd) == nil {
			return p, n, h, wd
		}
	}
}

// familyReference draws a random family layer, its weights, input and
// extra inputs, and computes its reference.
func familyReference(t *testing.T, rng *rand.Rand) (p Params, w Weights, x []float32, e Extra, n, h, wd int, r *Result) {
	t.Helper()
	p, n, h, wd = randomFamilyCase(rng)
	w = RandomWeights(p, rng)
	x = RandomInput(n, p.InC*h*wd, rng)
	e = RandomExtra(p, n, h, wd, rng)
	var err error
	if r, err = ReferenceExtra(p, w, x, n, h, wd, e); err != nil {
		t.Fatalf("%v %dx%d: %v", p, h, wd, err)
	}
	return p, w, x, e, n, h, wd, r
}

// emus are the evaluation orders family32 is checked in.
func emus(rng *rand.Rand) map[string]emu {
	return map[string]emu{
		"natural":   {},
		"random":    {rng: rng},
		"fma":       {rng: rng, fma: true},
		"pairwise":  {rng: rng, pairwise: true},
		"training":  {rng: rng, training: true},
		"unfolded":  {rng: rng, unfolded: true},
		"both":      {rng: rng, unfolded: true, training: true, fma: true},
		"reference": {}, // placeholder: the reference's Y rounded to float32
	}
}

// TestFamilyFloat32Passes runs the float32 emulation of the computation the
// error model describes, in every order, on many random layers of every
// routing and epilogue: a correct float32 implementation must never fail
// Compare.
func TestFamilyFloat32Passes(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	cases := 500
	if testing.Short() {
		cases = 150
	}
	worst := map[string]float64{}
	for range cases {
		p, w, x, e, n, h, wd, r := familyReference(t, rng)
		for name, m := range emus(rng) {
			got := toFloat32(r.Y)
			if name != "reference" {
				got = family32(p, w, x, e, n, h, wd, m)
			}
			if err := Compare(got, r); err != nil {
				t.Fatalf("%v %dx%d, %s order: %v", p, h, wd, name, err)
			}
			key := p.Routing + "/" + p.Activation
			worst[key] = math.Max(worst[key], Measure(got, r).WorstRatio)
		}
	}
	keys := make([]string, 0, len(worst))
	for k := range worst {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-22s worst |err|/bound %.3g", k, worst[k])
	}
}

// TestFamilyFloat32PassesHard stresses the bound where it is tightest:
// peaked routing and attention, outputs that cancel, large outputs around
// the activations' kinks and clamps, tiny values.
func TestFamilyFloat32PassesHard(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	scale := func(v []float32, s float32) {
		for i := range v {
			v[i] *= s
		}
	}
	cases := 200
	if testing.Short() {
		cases = 60
	}
	for i := range cases {
		p, n, h, wd := randomFamilyCase(rng)
		w := RandomWeights(p, rng)
		x := RandomInput(n, p.InC*h*wd, rng)
		switch i % 4 {
		case 0: // peaked routing: every routing and attention FC 30 times larger
			for _, f := range []string{"FCWeight", "FCBias", "RoutingWeight", "RoutingBias", "FC2Weight", "FC2Bias",
				"ChannelWeight", "ChannelBias", "FilterWeight", "FilterBias", "SpatialWeight", "SpatialBias", "KernelWeight", "KernelBias"} {
				scale(*w.Field(f), 30)
			}
		case 1: // inputs that cancel
			for j := range x {
				x[j] = 1 + x[j]*1e-3
			}
		case 2: // large outputs: many beyond relu6's 6 and hardswish's ±3
			scale(w.Weight, 8)
		case 3: // tiny values
			scale(x, 1e-20)
			scale(w.Weight, 1e-8)
			scale(w.Bias, 1e-30)
			scale(w.BNBias, 1e-30)
			scale(w.BNMean, 1e-30)
		}
		e := RandomExtra(p, n, h, wd, rng)
		if i%4 == 3 {
			scale(e.Residual, 1e-30)
		}
		r, err := ReferenceExtra(p, w, x, n, h, wd, e)
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range emus(rng) {
			if name == "reference" {
				continue
			}
			if err := Compare(family32(p, w, x, e, n, h, wd, m), r); err != nil {
				t.Fatalf("case %d %v %dx%d, %s order: %v", i, p, h, wd, name, err)
			}
		}
	}
}

// TestFamilyTrainingAgrees checks the fused formulation against the
// training-time form on random layers of every routing and epilogue, and
// the routing coefficients' shape: distributions where a softmax makes
// them, values in (0, 1) where a sigmoid does.
func TestFamilyTrainingAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for range 300 {
		p, w, x, e, n, h, wd, r := familyReference(t, rng)
		ytr, err := ReferenceTrainingExtra(p, w, x, n, h, wd, e)
		if err != nil {
			t.Fatal(err)
		}
		scale := math.Max(maxAbs(r.Y), 1)
		for i := range ytr {
			if d := math.Abs(ytr[i] - r.Y[i]); d > 1e-12*scale {
				t.Fatalf("%v %dx%d: element %d: fused %v, training %v", p, h, wd, i, r.Y[i], ytr[i])
			}
		}
		nr := p.RoutingLen()
		if len(r.Routing) != n*nr || (p.Routing == DyNet) != (r.Pi != nil) {
			t.Fatalf("%v: Routing has %d coefficients, want %d; Pi %v", p, len(r.Routing), n*nr, r.Pi != nil)
		}
		if p.ExternalRouting {
			if !slices.Equal(r.Routing, widen(e.Routing)) {
				t.Fatalf("%v: external routing not used as given", p)
			}
			continue
		}
		for s := range n {
			c := r.Routing[s*nr : (s+1)*nr]
			sumTo1 := func(what string, idx func(k int) int) {
				sum := 0.0
				for k := range p.K {
					sum += c[idx(k)]
				}
				if math.Abs(sum-1) > 1e-12 {
					t.Fatalf("%v: %s sums to %v", p, what, sum)
				}
			}
			in01 := func(what string, v []float64) {
				for i, x := range v {
					if !(x > 0 && x < 1) {
						t.Fatalf("%v: %s[%d] = %v is not in (0, 1)", p, what, i, x)
					}
				}
			}
			switch {
			case p.Routing == DyNet && p.Gate == Softmax:
				for o := range p.OutC {
					sumTo1(fmt.Sprintf("π[·,%d]", o), func(k int) int { return k*p.OutC + o })
				}
			case p.Routing == DyCNN:
				sumTo1("π", func(k int) int { return k })
			case p.Routing == ODConv:
				filter, spatial, kernel := p.ODHeads()
				in01("α_c", c[:p.InC])
				for _, hd := range []struct {
					name    string
					v       []float64
					present bool
				}{{"α_f", c[p.InC : p.InC+p.OutC], filter}, {"α_s", c[p.InC+p.OutC : nr-p.K], spatial}} {
					if hd.present {
						in01(hd.name, hd.v)
					} else if slices.ContainsFunc(hd.v, func(v float64) bool { return v != 1 }) {
						t.Fatalf("%v: absent head %s is %v, want all 1", p, hd.name, hd.v)
					}
				}
				if kernel {
					sumTo1("α_w", func(k int) int { return nr - p.K + k })
				} else if c[nr-1] != 1 {
					t.Fatalf("%v: absent kernel head α_w = %v, want 1", p, c[nr-1])
				}
			default:
				in01(p.Routing+" coefficients", c)
			}
		}
	}
}

// TestFamilyBugsCaught checks that the bound is tight enough to catch the
// bugs a port of the family makes: a missing BN, a BN with the wrong eps, a
// wrong temperature, a missing residual, the wrong activation, relu6
// without its clamp at 6, the wrong gate, odconv's α_c applied per output
// channel, α_s transposed, the wrong expert bias (unmixed, or expert 0's
// only). Each bug is computed (through the reference with mutated
// parameters, or through the float32 emulation with the bug switched on)
// on typical random layers and must fail Compare on nearly all of them.
func TestFamilyBugsCaught(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	stats := map[string]*bugStats{}
	st := func(name string) *bugStats {
		if stats[name] == nil {
			stats[name] = &bugStats{}
		}
		return stats[name]
	}
	cases := 400
	if testing.Short() {
		cases = 150
	}
	for c := range cases {
		p, n, h, wd := randomFamilyCase(rng)
		w := RandomWeights(p, rng)
		if p.Activation == ActReLU6 || p.Activation == ActHardswish {
			// Expert weights whose conv output has an RMS of about 3, as
			// the family's golden cases have: some values beyond 6.
			for i := range w.Weight {
				w.Weight[i] *= 4
			}
		}
		x := RandomInput(n, p.InC*h*wd, rng)
		e := RandomExtra(p, n, h, wd, rng)
		r, err := ReferenceExtra(p, w, x, n, h, wd, e)
		if err != nil {
			t.Fatal(err)
		}
		good := family32(p, w, x, e, n, h, wd, emu{rng: rng, fma: c%2 == 0})
		if err := Compare(good, r); err != nil {
			t.Fatalf("%v: the correct float32 result fails: %v", p, err)
		}
		// mutated computes the layer with a bug through the reference.
		mutated := func(name string, p2 Params, w2 Weights, e2 Extra) {
			rb, err := ReferenceExtra(p2, w2, x, n, h, wd, e2)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !slices.Equal(rb.Y, r.Y) {
				st(name).record(t, name, toFloat32(rb.Y), r, false)
			}
		}
		// emulated computes the layer with a bug through the emulation, in
		// the natural order, so that a layer the bug does not change (α_c
		// per output channel of a depthwise layer, relu6 on outputs below
		// 6) is left out.
		natural := family32(p, w, x, e, n, h, wd, emu{})
		emulated := func(bug string) {
			got := family32(p, w, x, e, n, h, wd, emu{bug: bug})
			if !slices.Equal(got, natural) {
				st(bug).record(t, bug, got, r, false)
			}
		}
		if p.BatchNorm {
			p2, w2 := p, w
			p2.BatchNorm, p2.BNEps = false, 0
			w2.BNWeight, w2.BNBias, w2.BNMean, w2.BNVar = nil, nil, nil, nil
			mutated("missing BN", p2, w2, e)
			p2 = p
			p2.BNEps = map[float64]float64{1e-5: 1e-3, 1e-3: 1e-5}[p.BNEps]
			mutated("BN with the wrong eps", p2, w, e)
		}
		if (p.Routing == DyCNN || p.Routing == ODConv) && !p.ExternalRouting {
			p2 := p
			p2.Temperature = map[float64]float64{1: 4, 4: 1, 34: 1}[p.Temperature]
			mutated("wrong temperature", p2, w, e)
		}
		if p.Routing == DyNet && !p.ExternalRouting && p.K > 1 {
			p2 := p
			p2.Gate = map[string]string{Softmax: Sigmoid, Sigmoid: Softmax}[p.Gate]
			mutated("wrong gate", p2, w, e)
		}
		if p.Residual {
			p2, e2 := p, e
			p2.Residual, e2.Residual = false, nil
			mutated("missing residual", p2, w, e2)
		}
		if p.Activation != ActNone {
			p2 := p
			p2.Activation = ActNone
			mutated("no activation", p2, w, e)
			p2.Activation = map[string]string{ActReLU: ActReLU6, ActReLU6: ActReLU, ActHardswish: ActSiLU, ActSiLU: ActHardswish, ActSigmoid: ActSiLU}[p.Activation]
			mutated("the wrong activation", p2, w, e)
		}
		if p.Activation == ActReLU6 {
			emulated("relu6 without the clamp at 6")
		}
		if p.Routing == ODConv {
			emulated("α_c per output channel")
			if p.KH > 1 {
				emulated("α_s transposed")
			}
		}
		if (p.Routing == CondConv || p.Routing == DyCNN) && p.Bias && p.K > 1 {
			emulated("expert biases unmixed")
			emulated("expert 0's bias")
		}
	}
	names := make([]string, 0, len(stats))
	for name := range stats {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := stats[name]
		t.Logf("%-30s caught %4d of %4d", name, s.caught, s.tried)
		if s.tried < cases/40 || s.caught*100 < s.tried*95 {
			t.Errorf("%s: caught only %d of %d", name, s.caught, s.tried)
		}
	}
	for _, name := range []string{"missing BN", "BN with the wrong eps", "wrong temperature", "wrong gate", "missing residual",
		"no activation", "the wrong activation", "relu6 without the clamp at 6", "α_c per output channel", "α_s transposed",
		"expert biases unmixed", "expert 0's bias"} {
		if stats[name] == nil {
			t.Errorf("bug %q was never tried", name)
		}
	}
}
