package verify

import (
	"math"
	"math/rand/v2"
)

// Weight scales shared by RandomWeights and WeightsFromBytes.
func scales(p Params) (weight, bias, fcWeight, fcBias float64) {
	taps := float64(max(p.Taps(), 1))
	cin := float64(max(p.InC, 1))
	return math.Sqrt(6 / taps), // He (Kaiming) uniform: variance 2/fan_in
		1 / math.Sqrt(taps), // PyTorch's default conv bias range
		2 / math.Sqrt(cin), // pooled values are O(0.5): logits vary by O(1)
		1.0 // spreads the logits so that no expert is certain or ignored
}

// RandomWeights returns random weights for p at realistic scales: the
// experts' kernels are He-uniform (U(±√(6/fan_in)), fan_in = Cin/groups·KH·KW),
// the bias U(±1/√fan_in), and the coefficient FC is scaled so that the
// logits spread over about ±1.5: the softmax is neither uniform nor one-hot.
// p must satisfy p.Check.
func RandomWeights(p Params, rng *rand.Rand) Weights {
	sw, sb, sfw, sfb := scales(p)
	uni := func(n int, a float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(a * (2*rng.Float64() - 1))
		}
		return v
	}
	w := Weights{
		Weight:   uni(p.WeightLen(), sw),
		FCWeight: uni(p.FCWeightLen(), sfw),
		FCBias:   uni(p.FCBiasLen(), sfb),
	}
	if p.Bias {
		w.Bias = uni(p.BiasLen(), sb)
	}
	return w
}

// RandomInput returns n samples of size elements each (n·size values,
// NCHW order when size = Cin·H·W). Values are U(−1, 1) plus a per-sample
// offset and offsets that change in blocks of random length, so that the
// channel means, and with them the routing, differ between channels and
// samples.
func RandomInput(n int, size int, rng *rand.Rand) []float32 {
	n, size = max(n, 0), max(size, 0)
	x := make([]float32, n*size)
	for s := range n {
		base := 0.5 * (2*rng.Float64() - 1)
		off, left := 0.0, 0
		for i := range size {
			if left == 0 {
				off, left = 0.5*(2*rng.Float64()-1), 16+rng.IntN(113)
			}
			left--
			x[s*size+i] = float32(base + off + 0.75*(2*rng.Float64()-1))
		}
	}
	return x
}

// byteStream expands arbitrary bytes (fuzz input) into an endless,
// deterministic stream of values in [−1, 1): each byte b gives (b−128)/128.
// Past the end the bytes repeat, mixed with the round number so that the
// values do not simply repeat; with no bytes a fixed sequence is used.
type byteStream struct {
	b []byte
	i int
}

func (s *byteStream) next() float64 {
	var v byte
	if len(s.b) == 0 {
		v = byte((uint64(s.i)*0x9e3779b1 + 0x7f4a7c15) >> 8)
	} else {
		v = s.b[s.i%len(s.b)] ^ byte((s.i/len(s.b))*0x9d)
	}
	s.i++
	return (float64(v) - 128) / 128
}

func (s *byteStream) fill(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * s.next())
	}
	return v
}

// WeightsFromBytes expands b (any length, including 0) deterministically
// into finite, bounded weights for p, at the same scales as RandomWeights.
// Each value comes from one byte, so a fuzzer steering the bytes steers the
// values, including exact zeros. p must satisfy p.Check.
func WeightsFromBytes(p Params, b []byte) Weights {
	sw, sb, sfw, sfb := scales(p)
	s := &byteStream{b: b}
	w := Weights{Weight: s.fill(p.WeightLen(), sw)}
	if p.Bias {
		w.Bias = s.fill(p.BiasLen(), sb)
	}
	w.FCWeight = s.fill(p.FCWeightLen(), sfw)
	w.FCBias = s.fill(p.FCBiasLen(), sfb)
	return w
}

// InputFromBytes expands b (any length, including 0) deterministically into
// n input values in [−1, 1).
func InputFromBytes(n int, b []byte) []float32 {
	s := &byteStream{b: b}
	return s.fill(max(n, 0), 1)
}
