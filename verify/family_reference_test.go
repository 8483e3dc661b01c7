package verify

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// one1x1 is a 1×1 layer template of the family.
func one1x1(cin, cout, k int) Params {
	return Params{InC: cin, OutC: cout, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: k, Mode: Zeros}
}

func requireY(t *testing.T, r *Result, want []float64) {
	t.Helper()
	require.Len(t, r.Y, len(want))
	for i := range want {
		require.InDelta(t, want[i], r.Y[i], 1e-6*math.Max(1, math.Abs(want[i])), "y[%d] of %v", i, r.Y) // ln 3 is rounded to float32
	}
}

// TestReferenceFamilyHandComputed checks each routing and the epilogue on
// layers small enough to compute by hand.
func TestReferenceFamilyHandComputed(t *testing.T) {
	ln3 := float32(math.Log(3))
	x := []float32{1, 2, 3, 4} // one channel, 2×2

	// condconv: r = σ([0, ln 3]) = [1/2, 3/4]; W̃ = 2/2 + 6·3/4 = 5.5,
	// β = 1/2 + 2·3/4 = 2.
	p := one1x1(1, 1, 2)
	p.Routing, p.Bias = CondConv, true
	w := Weights{Weight: []float32{2, 6}, Bias: []float32{1, 2}, RoutingWeight: []float32{0, 0}, RoutingBias: []float32{0, ln3}}
	r, err := Reference(p, w, x, 1, 2, 2)
	require.NoError(t, err)
	requireY(t, r, []float64{7.5, 13, 18.5, 24})
	assert.InDeltaSlice(t, []float64{0.5, 0.75}, r.Routing, 1e-7)
	assert.Nil(t, r.Pi)

	// The same routing from outside: r = [1/4, 1/2]; W̃ = 3.5, β = 1.25.
	p.ExternalRouting = true
	wx := w
	wx.RoutingWeight, wx.RoutingBias = nil, nil
	r, err = ReferenceExtra(p, wx, x, 1, 2, 2, Extra{Routing: []float32{0.25, 0.5}})
	require.NoError(t, err)
	requireY(t, r, []float64{4.75, 8.25, 11.75, 15.25})

	// dycnn, T = 2: h = relu(1·mean(x)) = 2.5; z = [0, 2·ln 3] / 2 →
	// π = [1/4, 3/4]; W̃ = 5, β = 1/4 + 2·3/4 = 1.75.
	p = one1x1(1, 1, 2)
	p.Routing, p.Bias, p.Temperature, p.AttnC = DyCNN, true, 2, 1
	w = Weights{Weight: []float32{2, 6}, Bias: []float32{1, 2}, FC1Weight: []float32{1}, FC2Weight: []float32{0, 0}, FC2Bias: []float32{0, 2 * ln3}}
	r, err = Reference(p, w, x, 1, 2, 2)
	require.NoError(t, err)
	requireY(t, r, []float64{6.75, 11.75, 16.75, 21.75})
	// A negative fc1 output is cut by the ReLU: uniform routing.
	w.FC1Weight = []float32{-1}
	w.FC2Weight, w.FC2Bias = []float32{5, -5}, []float32{0, 0}
	r, err = Reference(p, w, x, 1, 2, 2)
	require.NoError(t, err)
	requireY(t, r, []float64{0.5*2*1 + 0.5*6*1 + 1.5, 0.5*2*2 + 0.5*6*2 + 1.5, 0.5*2*3 + 0.5*6*3 + 1.5, 0.5*2*4 + 0.5*6*4 + 1.5})

	// dynet with a sigmoid gate: π = [1/2, 3/4] for the one channel.
	p = one1x1(1, 1, 2)
	p.Gate, p.Bias = Sigmoid, true
	w = Weights{Weight: []float32{2, 6}, Bias: []float32{1}, FCWeight: []float32{0, 0}, FCBias: []float32{0, ln3}}
	r, err = Reference(p, w, x, 1, 2, 2)
	require.NoError(t, err)
	requireY(t, r, []float64{6.5, 12, 17.5, 23})
	assert.Equal(t, r.Pi, r.Routing)

	// odconv, 2 → 1 channels, 1×1, K = 1: the channel and filter heads
	// only. The heads' weights are zero, so only their biases count:
	// α_c = σ([0, ln 3]) = [1/2, 3/4], α_f = σ(ln 3) = 3/4, and
	// y = α_f·(W0·α_c0·x0 + W1·α_c1·x1).
	p = one1x1(2, 1, 1)
	p.Routing, p.AttnC = ODConv, 1
	w = Weights{Weight: []float32{1, 10}, AttnWeight: []float32{0, 0},
		AttnBNWeight: []float32{1}, AttnBNBias: []float32{0.5}, AttnBNMean: []float32{0}, AttnBNVar: []float32{1},
		ChannelWeight: []float32{0, 0}, ChannelBias: []float32{0, ln3}, FilterWeight: []float32{0}, FilterBias: []float32{ln3}}
	r, err = Reference(p, w, []float32{1, 2}, 1, 1, 1)
	require.NoError(t, err)
	requireY(t, r, []float64{0.75 * (0.5 + 10*2*0.75)})
	assert.InDeltaSlice(t, []float64{0.5, 0.75, 0.75, 1, 1}, r.Routing, 1e-7) // α_c, α_f, α_s (absent), α_w (absent)

	// odconv's spatial and kernel heads: 1 → 1 channel (depthwise: no
	// filter head), a 2×2 kernel on the 2×2 input, K = 2: α_s = σ(spatial
	// bias), α_w = softmax(kernel bias), α_c = σ(0) = 1/2.
	p = Params{InC: 1, OutC: 1, KH: 2, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 2, Mode: Zeros, Routing: ODConv, AttnC: 1, Temperature: 1}
	w = Weights{Weight: []float32{1, 2, 3, 4, 5, 6, 7, 8}, AttnWeight: []float32{0},
		AttnBNWeight: []float32{1}, AttnBNBias: []float32{0}, AttnBNMean: []float32{0}, AttnBNVar: []float32{1},
		ChannelWeight: []float32{0}, ChannelBias: []float32{0},
		SpatialWeight: []float32{0, 0, 0, 0}, SpatialBias: []float32{0, ln3, -ln3, 0},
		KernelWeight: []float32{0, 0}, KernelBias: []float32{0, ln3}}
	r, err = Reference(p, w, x, 1, 2, 2)
	require.NoError(t, err)
	as, aw := []float64{0.5, 0.75, 0.25, 0.5}, []float64{0.25, 0.75}
	want := 0.0
	for tap := range 4 {
		wt := aw[0]*float64(w.Weight[tap]) + aw[1]*float64(w.Weight[4+tap])
		want += as[tap] * wt * 0.5 * float64(x[tap])
	}
	requireY(t, r, []float64{want})

	// The epilogue: a static 1×1 conv 2x + 1, BN with s = 2/√(3+1) = 1
	// and shift 0.5 − 1 → 2x + 0.5, a residual, each activation.
	p = one1x1(1, 1, 1)
	p.Routing, p.Bias, p.BatchNorm, p.BNEps, p.Residual = Static, true, true, 1, true
	w = Weights{Weight: []float32{2}, Bias: []float32{1}, BNWeight: []float32{2}, BNBias: []float32{0.5}, BNMean: []float32{1}, BNVar: []float32{3}}
	xs, res := []float32{-2, -1, 1, 3}, []float32{0.5, 0, 0, 1}
	z := []float64{-3, -1.5, 2.5, 7.5}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for act, f := range map[string]func(float64) float64{
		ActNone:      func(v float64) float64 { return v },
		ActReLU:      func(v float64) float64 { return math.Max(v, 0) },
		ActReLU6:     func(v float64) float64 { return math.Min(math.Max(v, 0), 6) },
		ActHardswish: func(v float64) float64 { return v * math.Min(math.Max(v+3, 0), 6) / 6 },
		ActSiLU:      func(v float64) float64 { return v * sig(v) },
		ActSigmoid:   sig,
	} {
		p.Activation = act
		r, err := ReferenceExtra(p, w, xs, 1, 2, 2, Extra{Residual: res})
		require.NoError(t, err, act)
		want := make([]float64, 4)
		for i := range z {
			want[i] = f(z[i])
		}
		requireY(t, r, want)
	}
	p.Activation = ActHardswish
	r, err = ReferenceExtra(p, w, xs, 1, 2, 2, Extra{Residual: res})
	require.NoError(t, err)
	requireY(t, r, []float64{0, -0.375, 2.5 * 5.5 / 6, 7.5})
}

// TestReferenceFamilyErrors checks that the reference names what is wrong
// with the extra inputs and the family's tensors.
func TestReferenceFamilyErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	p := Params{InC: 2, OutC: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 2,
		Mode: Zeros, Routing: CondConv, BatchNorm: true, Residual: true, ExternalRouting: true, Activation: ActReLU}
	w := RandomWeights(p, rng)
	x := RandomInput(1, 2*4*4, rng)
	e := RandomExtra(p, 1, 4, 4, rng)
	_, err := ReferenceExtra(p, w, x, 1, 4, 4, e)
	require.NoError(t, err)
	bad := func(want string, p Params, w Weights, e Extra) {
		t.Helper()
		_, err := ReferenceExtra(p, w, x, 1, 4, 4, e)
		_, err2 := ReferenceTrainingExtra(p, w, x, 1, 4, 4, e)
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
		assert.Equal(t, err, err2)
	}
	e2 := e
	e2.Residual = e.Residual[1:]
	bad("residual has 47 elements, want 48", p, w, e2)
	e2 = e
	e2.Routing = append(e.Routing, 0.5)
	bad("routing has 3 elements, want 2", p, w, e2)
	e2 = e
	e2.Residual = append([]float32(nil), e.Residual...)
	e2.Residual[1] = float32(math.NaN())
	bad("residual[1] is NaN", p, w, e2)
	e2 = e
	e2.Routing = []float32{0.5, float32(math.Inf(1))}
	bad("routing[1] is +Inf", p, w, e2)
	q := p
	q.Residual = false
	bad("residual has 48 elements, want none", q, w, e)
	q = p
	q.ExternalRouting = false
	w2 := RandomWeights(q, rng)
	bad("routing has 2 elements, want none", q, w2, e)
	w2 = w
	w2.BNVar = []float32{1, -2, 1}
	bad("BNVar[1] = -2: running_var + eps", p, w2, e)
	w2 = w
	w2.BNWeight = nil
	bad("BNWeight has 0 elements, want 3", p, w2, e)
	w2 = w
	w2.FCWeight = make([]float32, 12)
	bad("FCWeight has 12 elements, want none", p, w2, e)
	q = p
	q.Temperature = 2 // does not apply to condconv: cleared, not an error
	_, err = ReferenceExtra(q, w, x, 1, 4, 4, e)
	assert.NoError(t, err)
	_, err = Reference(p, w, x, 1, 4, 4)
	assert.ErrorContains(t, err, "residual has 0 elements, want 48")
	// An odconv attention BN with running_var + eps ≤ 0.
	q = Params{InC: 2, OutC: 2, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 2, Mode: Zeros, Routing: ODConv}.WithDefaults()
	w2 = RandomWeights(q, rng)
	w2.AttnBNVar[3] = -1
	_, err = Reference(q, w2, x[:8], 1, 2, 2)
	assert.ErrorContains(t, err, "AttnBNVar[3] = -1")
}
