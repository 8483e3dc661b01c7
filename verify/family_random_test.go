package verify

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRandomWeightsFamily checks that RandomWeights fills every tensor of
// every routing at the family README's scales.
func TestRandomWeightsFamily(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	var bnW, bnV []float32
	for range 200 {
		p, _, _, _ := randomFamilyCase(rng)
		w := RandomWeights(p, rng)
		require.NoError(t, p.CheckWeights(w), "%v", p)
		finiteWithin(t, "Weight", w.Weight, math.Sqrt(6/float64(p.Taps())))
		bnW = append(append(bnW, w.BNWeight...), w.AttnBNWeight...)
		bnV = append(append(bnV, w.BNVar...), w.AttnBNVar...)
		finiteWithin(t, "BNMean", w.BNMean, 0.9)
		finiteWithin(t, "BNBias", w.BNBias, 0.9)
	}
	neg := 0
	for _, v := range bnW {
		require.True(t, math.Abs(float64(v)) >= 0.5 && math.Abs(float64(v)) <= 1.5, "BN weight %v", v)
		if v < 0 {
			neg++
		}
	}
	assert.InDelta(t, 0.15, float64(neg)/float64(len(bnW)), 0.04, "share of negative BN weights")
	for _, v := range bnV {
		require.True(t, v >= 0.5 && v <= 2, "BN running_var %v", v)
	}
}

// TestRandomRoutingScale checks that on typical layers of every routing the
// random weights give gates that are neither saturated nor uniform, and
// that samples route differently.
func TestRandomRoutingScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	base := Params{InC: 32, OutC: 32, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 4, Mode: Zeros}
	for _, v := range []struct {
		routing, gate string
		temp          float64
	}{{DyNet, Softmax, 0}, {DyNet, Sigmoid, 0}, {CondConv, "", 0}, {DyCNN, "", 1}, {DyCNN, "", 34}, {ODConv, "", 1}, {ODConv, "", 4}} {
		p := base
		p.Routing, p.Gate, p.Temperature = v.routing, v.gate, v.temp
		p = p.WithDefaults()
		const n = 8
		var lo, hi, mid, total float64 = 1, 0, 0, 0
		diff := 0.0
		for range 4 {
			w := RandomWeights(p, rng)
			r, err := Reference(p, w, RandomInput(n, p.InC*6*6, rng), n, 6, 6)
			require.NoError(t, err)
			nr := p.RoutingLen()
			for i, c := range r.Routing {
				if p.Routing == ODConv && i%nr >= nr-p.K {
					continue // α_w, a softmax, is checked with the others' sums below
				}
				lo, hi = math.Min(lo, c), math.Max(hi, c)
				if c > 0.02 && c < 0.98 {
					mid++
				}
				total++
				diff = math.Max(diff, math.Abs(c-r.Routing[(i+nr)%len(r.Routing)]))
			}
		}
		name := p.Routing + "/" + p.Gate
		assert.Greater(t, mid/total, 0.9, "%s: only %.0f%% of the coefficients are in (0.02, 0.98)", name, 100*mid/total)
		assert.Greater(t, hi-lo, 0.3, "%s: coefficients span only [%.3g, %.3g]", name, lo, hi)
		assert.Greater(t, diff, 0.01, "%s: samples route alike", name)
	}
}

// TestRandomExtra checks the lengths and the validity of RandomExtra's and
// ExtraFromBytes's routing, and the residual's scale.
func TestRandomExtra(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	var sum, sq, cnt float64
	for i := range 300 {
		p, n, h, wd := randomFamilyCase(rng)
		p.ExternalRouting = p.Routing != Static
		ho, wo := p.OutputSize(h, wd)
		var e Extra
		if i%2 == 0 {
			e = RandomExtra(p, n, h, wd, rng)
		} else {
			b := make([]byte, rng.IntN(40))
			for j := range b {
				b[j] = byte(rng.IntN(256))
			}
			e = ExtraFromBytes(p, n, h, wd, b)
			require.True(t, reflect.DeepEqual(e, ExtraFromBytes(p, n, h, wd, b)), "ExtraFromBytes is not deterministic")
		}
		if p.Residual {
			require.Len(t, e.Residual, n*p.OutC*ho*wo)
			finiteWithin(t, "residual", e.Residual, 10)
			if i%2 == 0 {
				for _, v := range e.Residual {
					sum, sq, cnt = sum+float64(v), sq+float64(v)*float64(v), cnt+1
				}
			}
		} else {
			require.Nil(t, e.Residual)
		}
		require.Len(t, e.Routing, n*p.RoutingLen())
		// The reference accepts them, and they are valid coefficients.
		r, err := ReferenceExtra(p, RandomWeights(p, rng), RandomInput(n, p.InC*h*wd, rng), n, h, wd, e)
		require.NoError(t, err, "%v", p)
		nr := p.RoutingLen()
		for s := range n {
			c := r.Routing[s*nr : (s+1)*nr]
			soft := func(idx func(k int) int) {
				sum := 0.0
				for k := range p.K {
					sum += c[idx(k)]
				}
				require.InDelta(t, 1, sum, 1e-6, "%v: a softmax row sums to %v", p, sum)
			}
			switch {
			case p.Routing == DyNet && p.Gate == Softmax:
				for o := range p.OutC {
					soft(func(k int) int { return k*p.OutC + o })
				}
			case p.Routing == DyCNN:
				soft(func(k int) int { return k })
			case p.Routing == ODConv:
				filter, spatial, kernel := p.ODHeads()
				for j, v := range c {
					absent := (j >= p.InC && j < p.InC+p.OutC && !filter) ||
						(j >= p.InC+p.OutC && j < nr-p.K && !spatial) || (j >= nr-p.K && !kernel)
					if absent {
						require.Equal(t, 1.0, v, "%v: absent head coefficient %d", p, j)
					} else {
						require.True(t, v > 0 && v < 1, "%v: coefficient %d = %v", p, j, v)
					}
				}
				if kernel {
					soft(func(k int) int { return nr - p.K + k })
				}
			default:
				for _, v := range c {
					require.True(t, v > 0 && v < 1, "%v: coefficient %v", p, v)
				}
			}
		}
	}
	mean, sd := sum/cnt, math.Sqrt(sq/cnt-(sum/cnt)*(sum/cnt))
	assert.InDelta(t, 0, mean, 0.05)
	assert.InDelta(t, 1, sd, 0.05)

	// Invalid or absurd sizes give an empty Extra, without panicking.
	p := Params{InC: 1, OutC: 1, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 2, Mode: Zeros, Residual: true, ExternalRouting: true}
	assert.Equal(t, Extra{}, RandomExtra(p, 1, 1, 1, rng))
	assert.Equal(t, Extra{}, ExtraFromBytes(p, 1<<30, 1<<15, 1<<15, nil))
	assert.Len(t, ExtraFromBytes(p, 0, 4, 4, nil).Routing, 0)
}

// TestWeightsFromBytesFamily checks WeightsFromBytes on every routing:
// every tensor, finite, BN variances positive, deterministic.
func TestWeightsFromBytesFamily(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	for i := range 100 {
		p, _, _, _ := randomFamilyCase(rng)
		b := make([]byte, i*3)
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		w := WeightsFromBytes(p, b)
		require.NoError(t, p.CheckWeights(w), "%v", p)
		require.True(t, reflect.DeepEqual(w, WeightsFromBytes(p, b)), "WeightsFromBytes is not deterministic")
		for _, f := range WeightFields {
			finiteWithin(t, f, *w.Field(f), 200)
		}
		for _, v := range append(append([]float32(nil), w.BNVar...), w.AttnBNVar...) {
			require.True(t, v >= 0.5 && v <= 2, "running_var %v", v)
		}
	}
	// A byte of 128 is an exact zero in a symmetric range.
	p := Params{InC: 2, OutC: 2, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 2, Mode: Zeros, Routing: CondConv}
	w := WeightsFromBytes(p, []byte{128})
	assert.Equal(t, float32(0), w.Weight[0])
}

// FuzzFamilyBound derives a family layer, its weights, input and extra
// inputs from the fuzz bytes and checks that the float32 emulation passes
// Compare in the natural, FMA, training-time and unfolded orders.
func FuzzFamilyBound(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26}, []byte{200, 100, 0})
	f.Add([]byte{3, 0, 0, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 3, 0, 0, 1, 5, 5, 3, 1, 1, 4, 1, 1, 0}, []byte{255, 0, 17})
	f.Add([]byte{4, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 8, 8, 2, 0, 2, 5, 0, 0, 1}, []byte{128})
	f.Add([]byte{2, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1, 6, 6, 4, 1, 0, 3, 1, 1, 1}, []byte{9, 250, 3, 77})
	modes := []string{Zeros, Reflect, Replicate, Circular}
	f.Fuzz(func(t *testing.T, spec, data []byte) {
		at := func(i, n int) int {
			if i < len(spec) {
				return int(spec[i]) % n
			}
			return 0
		}
		g := 1 + at(1, 3)
		p := Params{
			InC: g * (1 + at(2, 3)), OutC: g * (1 + at(3, 3)),
			KH: 1 + at(4, 4), KW: 1 + at(5, 4), SH: 1 + at(6, 3), SW: 1 + at(7, 3),
			DH: 1 + at(8, 2), DW: 1 + at(9, 2),
			PadT: at(10, 3), PadB: at(11, 3), PadL: at(12, 3), PadR: at(13, 3),
			Groups: g, K: 1 + at(14, 4), Bias: at(15, 2) == 0, Mode: modes[at(16, 4)],
			Routing: Routings[at(0, len(Routings))], Gate: Gates[at(19, 2)],
			Temperature: []float64{1, 4, 34}[at(20, 3)], AttnC: at(21, 9),
			BatchNorm: at(22, 2) == 0, BNEps: []float64{1e-5, 1e-3}[at(22, 2)],
			Activation: Activations[at(23, len(Activations))], Residual: at(24, 2) == 1, ExternalRouting: at(25, 4) == 0,
		}
		if p.Routing == DyCNN || p.Routing == ODConv {
			p.KW, p.SW, p.DW, p.PadB, p.PadL, p.PadR = p.KH, p.SH, p.DH, p.PadT, p.PadT, p.PadT
		}
		if p.Routing == ODConv {
			p.Mode, p.Bias = Zeros, false
		}
		if p.Routing == Static {
			p.K, p.ExternalRouting = 1, false
		}
		p = p.WithDefaults()
		n, h, wd := 1+at(17, 2), 1+at(18, 9), 1+at(26, 9)
		if p.Check() != nil || p.CheckInput(h, wd) != nil {
			return
		}
		w := WeightsFromBytes(p, data)
		x := InputFromBytes(n*p.InC*h*wd, append([]byte{0x5a}, data...))
		e := ExtraFromBytes(p, n, h, wd, append([]byte{0xa5}, data...))
		r, err := ReferenceExtra(p, w, x, n, h, wd, e)
		if err != nil {
			t.Fatalf("%v %dx%d: %v", p, h, wd, err)
		}
		for name, m := range map[string]emu{"natural": {}, "fma": {fma: true}, "training": {training: true}, "unfolded": {unfolded: true, pairwise: true}} {
			if err := Compare(family32(p, w, x, e, n, h, wd, m), r); err != nil {
				t.Fatalf("%v %dx%d, %s order: %v", p, h, wd, name, err)
			}
		}
	})
}
