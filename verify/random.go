package verify

import (
	"math"
	"math/rand/v2"
)

// dist is how one tensor's random values are drawn: uniform on [lo, hi],
// then negated with probability neg.
type dist struct{ lo, hi, neg float64 }

func sym(a float64) dist { return dist{lo: -a, hi: a} }

// sqrt3 turns a standard deviation into the half-width of the uniform
// distribution that has it.
const sqrt3 = 1.7320508075688772

// fieldDist is the distribution of the values of Weights field f for
// layer p (with its defaults filled in), shared by RandomWeights and
// WeightsFromBytes:
//   - the experts He (Kaiming) uniform, U(±√(6/fan_in)), fan_in =
//     Cin/groups·KH·KW, and the conv's bias U(±1/√fan_in), PyTorch's
//     default range;
//   - every routing FC scaled for inputs of order 0.5 (the pooled means of
//     RandomInput; ODConv's attention after its BN and ReLU) and a bias of
//     order 1, so that the logits spread over about ±1.5: gates neither
//     saturated nor uniform. Heads whose logits a temperature T divides
//     (DY-CNN's fc2, ODConv's heads) are T times larger, as the family's
//     golden cases scale them;
//   - BatchNorms (the layer's and ODConv's attention BN) with running_var
//     in [0.5, 2], running_mean and bias of standard deviation 0.5, weight
//     ±[0.5, 1.5] with 15 % negative.
func fieldDist(p Params, f string) dist {
	taps := float64(max(p.Taps(), 1))
	cin := float64(max(p.InC, 1))
	attn := float64(max(p.AttnC, 1))
	temp := math.Max(p.Temperature, 1)
	switch f {
	case "Weight":
		return sym(math.Sqrt(6 / taps))
	case "Bias":
		return sym(1 / math.Sqrt(taps))
	case "FCWeight", "FC1Weight", "AttnWeight":
		return sym(2 / math.Sqrt(cin)) // pooled values are O(0.5): outputs vary by O(1)
	case "RoutingWeight":
		return sym(3 / math.Sqrt(cin))
	case "FCBias", "RoutingBias":
		return sym(1) // spreads the logits so that no expert is certain or ignored
	case "FC2Weight", "ChannelWeight", "FilterWeight", "SpatialWeight", "KernelWeight":
		return sym(3 * temp / math.Sqrt(attn))
	case "FC2Bias", "ChannelBias", "FilterBias", "SpatialBias", "KernelBias":
		return sym(temp)
	case "BNWeight", "AttnBNWeight":
		return dist{lo: 0.5, hi: 1.5, neg: 0.15}
	case "BNBias", "BNMean", "AttnBNBias", "AttnBNMean":
		return sym(0.5 * sqrt3)
	case "BNVar", "AttnBNVar":
		return dist{lo: 0.5, hi: 2}
	}
	return sym(1)
}

// RandomWeights returns random weights for p: every tensor of p.Tensors(),
// and nothing else, at the realistic scales fieldDist describes. p must
// satisfy p.Check.
func RandomWeights(p Params, rng *rand.Rand) Weights {
	p = p.WithDefaults()
	var w Weights
	for _, t := range p.Tensors() {
		d := fieldDist(p, t.Field)
		v := make([]float32, t.Len())
		for i := range v {
			x := d.lo + (d.hi-d.lo)*rng.Float64()
			if d.neg > 0 && rng.Float64() < d.neg {
				x = -x
			}
			v[i] = float32(x)
		}
		*w.Field(t.Field) = v
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

// RandomExtra returns the extra inputs of n samples of an h×wd input to
// layer p: a residual [N,Cout,Ho,Wo] of N(0,1) values when p.Residual, and
// valid routing coefficients [N, RoutingLen] when p.ExternalRouting (dynet:
// a softmax over K per output channel, or sigmoid values; condconv: sigmoid
// values in (0,1); dycnn: a softmax over K; odconv: α_c, α_f, α_s in (0,1),
// 1 for absent heads, and α_w a softmax). p must satisfy p.Check and h×wd
// p.CheckInput (otherwise, or for absurd sizes, it returns an empty Extra).
func RandomExtra(p Params, n, h, wd int, rng *rand.Rand) Extra {
	return makeExtra(p, n, h, wd, func() float64 { return rng.NormFloat64() })
}

// ExtraFromBytes is RandomExtra with its values expanded deterministically
// from b (any length, including 0), for fuzzing: every value finite and
// bounded, the routing valid.
func ExtraFromBytes(p Params, n, h, wd int, b []byte) Extra {
	s := &byteStream{b: b}
	return makeExtra(p, n, h, wd, func() float64 { return 2 * s.next() })
}

// makeExtra builds RandomExtra's tensors from next, a source of values of
// order 1: residual values as they come, routing logits 1.5 times them.
func makeExtra(p Params, n, h, wd int, next func() float64) Extra {
	p = p.WithDefaults()
	n = max(n, 0)
	var e Extra
	if p.Check() != nil || p.CheckInput(h, wd) != nil {
		return e
	}
	ho, wo := p.OutputSize(h, wd)
	total, ok := mulInts(n, p.OutC, ho, wo)
	nrTotal, ok2 := mulInts(n, p.InC+p.OutC+p.KH*p.KW+p.K)
	if !ok || !ok2 || total > maxRefElems || nrTotal > maxRefElems {
		return e
	}
	if p.Residual {
		e.Residual = make([]float32, total)
		for i := range e.Residual {
			e.Residual[i] = float32(next())
		}
	}
	if !p.ExternalRouting {
		return e
	}
	nr := p.RoutingLen()
	e.Routing = make([]float32, n*nr)
	sig := func(v []float32) {
		for i := range v {
			v[i] = float32(sigmoid(1.5 * next()))
		}
	}
	// soft writes a softmax over the values v[0], v[stride], ….
	soft := func(v []float32, k, stride int) {
		z := make([]float64, k)
		for j := range z {
			z[j] = 1.5 * next()
		}
		pi, _ := softmaxErr(z, make([]float64, k))
		for j := range k {
			v[j*stride] = float32(pi[j])
		}
	}
	ones := func(v []float32) {
		for i := range v {
			v[i] = 1
		}
	}
	for s := range n {
		r := e.Routing[s*nr : (s+1)*nr]
		switch p.Routing {
		case DyNet:
			if p.Gate == Sigmoid {
				sig(r)
				break
			}
			for o := range p.OutC {
				soft(r[o:], p.K, p.OutC)
			}
		case CondConv:
			sig(r)
		case DyCNN:
			soft(r, p.K, 1)
		case ODConv:
			filter, spatial, kernel := p.ODHeads()
			c, f, sp, k := r[:p.InC], r[p.InC:p.InC+p.OutC], r[p.InC+p.OutC:nr-p.K], r[nr-p.K:]
			sig(c)
			for _, hd := range []struct {
				v       []float32
				present bool
			}{{f, filter}, {sp, spatial}} {
				if hd.present {
					sig(hd.v)
				} else {
					ones(hd.v)
				}
			}
			if kernel {
				soft(k, p.K, 1)
			} else {
				ones(k)
			}
		}
	}
	return e
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

// fillDist is fill for a distribution: v in [−1, 1) maps to the range
// lo..hi (symmetric ranges keep v's sign and proportion, so that a byte of
// 128 gives an exact zero), negated for the lowest neg share of v.
func (s *byteStream) fillDist(n int, d dist) []float32 {
	out := make([]float32, n)
	for i := range out {
		v := s.next()
		switch {
		case d.lo == -d.hi:
			out[i] = float32(d.hi * v)
		case d.neg > 0:
			x := d.lo + (d.hi-d.lo)*math.Abs(v)
			if v < -1+2*d.neg {
				x = -x
			}
			out[i] = float32(x)
		default:
			out[i] = float32(d.lo + (d.hi-d.lo)*(v+1)/2)
		}
	}
	return out
}

// WeightsFromBytes expands b (any length, including 0) deterministically
// into finite, bounded weights for p: every tensor of p.Tensors() in turn,
// in the ranges of RandomWeights (BN variances stay positive). Each value
// comes from one byte, so a fuzzer steering the bytes steers the values,
// including exact zeros. p must satisfy p.Check.
func WeightsFromBytes(p Params, b []byte) Weights {
	p = p.WithDefaults()
	s := &byteStream{b: b}
	var w Weights
	for _, t := range p.Tensors() {
		*w.Field(t.Field) = s.fillDist(t.Len(), fieldDist(p, t.Field))
	}
	return w
}

// InputFromBytes expands b (any length, including 0) deterministically into
// n input values in [−1, 1).
func InputFromBytes(n int, b []byte) []float32 {
	s := &byteStream{b: b}
	return s.fill(max(n, 0), 1)
}
