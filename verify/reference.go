package verify

import (
	"fmt"
	"math"
)

// Extra holds a layer's inputs besides x, for the layers that have them.
type Extra struct {
	// Residual [N,Cout,Ho,Wo] is added after the BN, before the activation;
	// only when p.Residual.
	Residual []float32
	// Routing [N, p.RoutingLen()] is each sample's routing coefficients in
	// the RoutingLen layout, used as they are; only when p.ExternalRouting.
	Routing []float32
}

// Result is what Reference computes for a batch: the float64 output, the
// per-element error bound that a correct float32 implementation stays
// within (see the error model in tolerance.go), and the routing
// coefficients.
type Result struct {
	Y     []float64 // output [N,Cout,Ho,Wo]
	Bound []float64 // per-element bound on |float32 result - Y|, same layout as Y
	Pi    []float64 // dynet only: the gate's coefficients π [N,K,Cout]; nil for the other routings
	// Routing is each sample's routing coefficients [N, RoutingLen] in the
	// RoutingLen layout: dynet π [K,Cout]; condconv and dycnn the K
	// coefficients; odconv α_c, α_f, α_s, α_w (1 for absent heads); empty
	// for static layers. External routing is copied from the Extra.
	Routing []float64
	N       int // batch size
	Ho      int // output height
	Wo      int // output width
	C       int // output channels (Cout)
}

// maxRefElems caps the output size Reference agrees to compute, so that a
// nonsensical shape fails with an error instead of exhausting memory.
const maxRefElems = 1 << 28

// extra64 is Extra in float64, as the reference computes with it.
type extra64 struct{ residual, routing []float64 }

// widen converts float32 values to float64 (nil stays nil).
func widen(v []float32) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// checkCall validates a Reference call and returns the output size. p has
// its defaults filled in.
func checkCall(p Params, w Weights, x []float64, n, h, wd int, e extra64) (ho, wo int, err error) {
	if err := p.Check(); err != nil {
		return 0, 0, err
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("batch size must be non-negative, got %d", n)
	}
	if err := p.CheckInput(h, wd); err != nil {
		return 0, 0, err
	}
	// Guard the products below against overflow before trusting lengths.
	for _, dims := range [][]int{
		{p.K, p.OutC, p.InPerGroup(), p.KH, p.KW},
		{p.K, p.OutC, p.InC},
		{p.AttnC, p.InC + p.OutC + p.KH*p.KW + p.K},
		{n, p.InC, h, wd},
		{n, p.InC + p.OutC + p.KH*p.KW + p.K},
	} {
		if _, ok := mulInts(dims...); !ok {
			return 0, 0, fmt.Errorf("size %v overflows", dims)
		}
	}
	if err := p.CheckWeights(w); err != nil {
		return 0, 0, err
	}
	if want := n * p.InC * h * wd; len(x) != want {
		return 0, 0, fmt.Errorf("input has %d elements, want %d (N=%d, Cin=%d, H=%d, W=%d)", len(x), want, n, p.InC, h, wd)
	}
	ho, wo = p.OutputSize(h, wd)
	total, ok := mulInts(n, p.OutC, ho, wo)
	if !ok || total > maxRefElems {
		return 0, 0, fmt.Errorf("output [%d %d %d %d] is too large for the reference", n, p.OutC, ho, wo)
	}
	switch {
	case p.Residual && len(e.residual) != total:
		return 0, 0, fmt.Errorf("residual has %d elements, want %d (N=%d, Cout=%d, Ho=%d, Wo=%d)", len(e.residual), total, n, p.OutC, ho, wo)
	case !p.Residual && len(e.residual) != 0:
		return 0, 0, fmt.Errorf("residual has %d elements, want none (the layer has no residual)", len(e.residual))
	case p.ExternalRouting && len(e.routing) != n*p.RoutingLen():
		return 0, 0, fmt.Errorf("routing has %d elements, want %d (N=%d, %d coefficients per sample)", len(e.routing), n*p.RoutingLen(), n, p.RoutingLen())
	case !p.ExternalRouting && len(e.routing) != 0:
		return 0, 0, fmt.Errorf("routing has %d elements, want none (the layer computes its own routing)", len(e.routing))
	}
	for _, f := range WeightFields {
		if err := checkFinite(f, widen(*w.Field(f))); err != nil {
			return 0, 0, err
		}
	}
	for _, s := range []struct {
		name string
		v    []float64
	}{{"input", x}, {"residual", e.residual}, {"routing", e.routing}} {
		if err := checkFinite(s.name, s.v); err != nil {
			return 0, 0, err
		}
	}
	for o, v := range w.BNVar {
		if !(float64(v)+p.BNEps > 0) {
			return 0, 0, fmt.Errorf("BNVar[%d] = %v: running_var + eps (%g) must be positive", o, v, p.BNEps)
		}
	}
	for a, v := range w.AttnBNVar {
		if !(float64(v)+ODConvAttnBNEps > 0) {
			return 0, 0, fmt.Errorf("AttnBNVar[%d] = %v: running_var + eps (%g) must be positive", a, v, ODConvAttnBNEps)
		}
	}
	return ho, wo, nil
}

func checkFinite(name string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s[%d] is %v; the reference needs finite values", name, i, x)
		}
	}
	return nil
}

func mulInts(dims ...int) (int, bool) {
	n := 1
	for _, d := range dims {
		if d < 0 || (d != 0 && n > math.MaxInt/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Reference computes a layer without extra inputs: ReferenceExtra with an
// empty Extra. A layer with a residual or external routing needs
// ReferenceExtra; Reference reports the missing input as an error.
func Reference(p Params, w Weights, x []float32, n, h, wd int) (*Result, error) {
	return ReferenceExtra(p, w, x, n, h, wd, Extra{})
}

// ReferenceExtra computes a layer of the dynamic-convolution family on a
// batch x [N,Cin,H,W] the way the family README defines it, in float64
// with plain nested loops. Per sample:
//   - the routing coefficients (Result.Routing) from the unpadded input's
//     channel means, or from e.Routing for external routing;
//   - the fused kernel W̃[o] = Σ_k c(k,o)·Weight[k,o] (dynet c = π[k,o];
//     condconv and dycnn the sample's c[k]; odconv α_s ⊙ Σ_k α_w[k]·Weight[k])
//     and bias (dynet and static: Bias; condconv and dycnn Σ_k c[k]·Bias[k];
//     odconv none);
//   - y = conv2d(x, W̃) + bias with the layer's stride, per-side padding
//     (mode as MapIndex defines it), dilation and groups; for odconv
//     y[o] = α_f[o]·conv2d(x ⊙ α_c, W̃)[o];
//   - the epilogue: the BN (y − mean)/sqrt(var + eps)·γ + β, then the
//     residual e.Residual added, then the activation.
//
// Nothing is folded: the BN and the attentions are applied where the
// README applies them. Alongside Y it computes Bound, the error model's
// bound for a float32 implementation (see tolerance.go). It returns an
// error when the layer, the input size, the slice lengths (weights, input,
// residual, routing) or the values (which must be finite) are invalid.
func ReferenceExtra(p Params, w Weights, x []float32, n, h, wd int, e Extra) (*Result, error) {
	return reference64(p, w, widen(x), n, h, wd, extra64{widen(e.Residual), widen(e.Routing)})
}

// reference64 is ReferenceExtra on float64 inputs (which lets a block's
// layers be chained without rounding between them).
func reference64(p Params, w Weights, x []float64, n, h, wd int, e extra64) (*Result, error) {
	p = p.WithDefaults()
	ho, wo, err := checkCall(p, w, x, n, h, wd, e)
	if err != nil {
		return nil, err
	}
	taps, nr := p.Taps(), p.RoutingLen()
	inSz, outSz := p.InC*h*wd, p.OutC*ho*wo
	res := &Result{
		Y: make([]float64, n*outSz), Bound: make([]float64, n*outSz),
		Routing: make([]float64, n*nr), N: n, Ho: ho, Wo: wo, C: p.OutC,
	}
	if p.Routing == DyNet {
		res.Pi = res.Routing
	}
	fused := make([]float64, p.OutC*taps) // W̃, literal (odconv: α_s applied, α_c and α_f not)
	tm := make([]tapMag, p.OutC*taps)     // the error model's per-tap magnitudes
	for s := range n {
		xs := x[s*inSz : (s+1)*inSz]
		var ext []float64
		if p.ExternalRouting {
			ext = e.routing[s*nr : (s+1)*nr]
		}
		rt := route(p, w, xs, h, wd, ext)
		copy(res.Routing[s*nr:], rt.coef)
		for o := range p.OutC {
			mix := channelMix(p, w, rt, o)
			for t := range taps {
				f := 0.0
				for k := range p.K {
					f += literalCoef(p, rt, k, o) * float64(w.Weight[(k*p.OutC+o)*taps+t])
				}
				if p.Routing == ODConv {
					f *= rt.coef[p.InC+p.OutC+t%(p.KH*p.KW)]
				}
				fused[o*taps+t] = f
				tm[o*taps+t] = tapMagnitude(p, w, rt, mix, o, t)
			}
		}
		for o := range p.OutC {
			g := o / p.OutPerGroup()
			b := literalBias(p, w, rt, o)
			bm := biasMagnitude(p, w, rt, o)
			for oy := range ho {
				for ox := range wo {
					var sum float64
					var om outMag
					for ci := range p.InPerGroup() {
						c := g*p.InPerGroup() + ci
						for kh := range p.KH {
							iy := MapIndex(p.Mode, oy*p.SH-p.PadT+kh*p.DH, h)
							if iy < 0 {
								continue
							}
							for kw := range p.KW {
								ix := MapIndex(p.Mode, ox*p.SW-p.PadL+kw*p.DW, wd)
								if ix < 0 {
									continue
								}
								t := o*taps + (ci*p.KH+kh)*p.KW + kw
								xv := xs[(c*h+iy)*wd+ix]
								om.add(tm[t], xv)
								if p.Routing == ODConv {
									xv *= rt.coef[c] // x ⊙ α_c
								}
								sum += fused[t] * xv
							}
						}
					}
					y := sum + b
					if p.Routing == ODConv {
						y *= rt.coef[p.InC+o] // α_f
					}
					i := s*outSz + (o*ho+oy)*wo + ox
					var r float64
					if p.Residual {
						r = e.residual[i]
					}
					z := preActivation(p, w, o, y, r)
					res.Y[i] = activate(p.Activation, z)
					res.Bound[i] = outputBound(p, bm, om, r, z, res.Y[i])
				}
			}
		}
	}
	return res, nil
}

// literalCoef is the coefficient of expert k for output channel o in the
// README's formula for W̃: π[k,o] (dynet), c[k] (condconv, dycnn), α_w[k]
// (odconv, whose α_f, α_c and α_s are applied separately), 1 (static).
func literalCoef(p Params, rt sampleRouting, k, o int) float64 {
	switch p.Routing {
	case DyNet:
		return rt.coef[k*p.OutC+o]
	case CondConv, DyCNN:
		return rt.coef[k]
	case ODConv:
		return rt.coef[p.InC+p.OutC+p.KH*p.KW+k]
	}
	return 1
}

// literalBias is the conv's bias for output channel o before the epilogue:
// Bias[o] (dynet, static), Σ_k c[k]·Bias[k,o] (condconv, dycnn), 0 without
// bias and for odconv.
func literalBias(p Params, w Weights, rt sampleRouting, o int) float64 {
	if !p.Bias {
		return 0
	}
	switch p.Routing {
	case CondConv, DyCNN:
		b := 0.0
		for k := range p.K {
			b += rt.coef[k] * float64(w.Bias[k*p.OutC+o])
		}
		return b
	}
	return float64(w.Bias[o])
}

// preActivation applies the epilogue's BN and residual to the conv output y
// of channel o.
func preActivation(p Params, w Weights, o int, y, r float64) float64 {
	if p.BatchNorm {
		y = (y-float64(w.BNMean[o]))/math.Sqrt(float64(w.BNVar[o])+p.BNEps)*float64(w.BNWeight[o]) + float64(w.BNBias[o])
	}
	return y + r
}

// activate applies an activation in float64.
func activate(act string, z float64) float64 {
	switch act {
	case ActReLU:
		return math.Max(z, 0)
	case ActReLU6:
		return math.Min(math.Max(z, 0), 6)
	case ActHardswish:
		return z * math.Min(math.Max(z+3, 0), 6) / 6
	case ActSiLU:
		return z * sigmoid(z)
	case ActSigmoid:
		return sigmoid(z)
	}
	return z
}

// ReferenceTraining is ReferenceTrainingExtra with an empty Extra.
func ReferenceTraining(p Params, w Weights, x []float32, n, h, wd int) ([]float64, error) {
	return ReferenceTrainingExtra(p, w, x, n, h, wd, Extra{})
}

// ReferenceTrainingExtra computes the same layer in the training-time form,
// y = Σ_k c(k,o)·conv2d(x', Weight_k') + bias then the epilogue, in
// float64: K separate convolutions mixed by the routing coefficients (for
// odconv x' = x ⊙ α_c, Weight_k' = α_s ⊙ Weight_k and c(k,o) =
// α_f[o]·α_w[k]). It is mathematically equal to ReferenceExtra and serves as
// an independent check of it. The output layout is [N,Cout,Ho,Wo].
func ReferenceTrainingExtra(p Params, w Weights, x32 []float32, n, h, wd int, e32 Extra) ([]float64, error) {
	p = p.WithDefaults()
	x, e := widen(x32), extra64{widen(e32.Residual), widen(e32.Routing)}
	ho, wo, err := checkCall(p, w, x, n, h, wd, e)
	if err != nil {
		return nil, err
	}
	taps, nr := p.Taps(), p.RoutingLen()
	inSz, outSz := p.InC*h*wd, p.OutC*ho*wo
	y := make([]float64, n*outSz)
	for s := range n {
		xs := x[s*inSz : (s+1)*inSz]
		var ext []float64
		if p.ExternalRouting {
			ext = e.routing[s*nr : (s+1)*nr]
		}
		rt := route(p, w, xs, h, wd, ext)
		for o := range p.OutC {
			g := o / p.OutPerGroup()
			b := literalBias(p, w, rt, o)
			for oy := range ho {
				for ox := range wo {
					acc := b
					for k := range p.K {
						wk := w.Weight[(k*p.OutC+o)*taps : (k*p.OutC+o+1)*taps]
						conv := 0.0
						for ci := range p.InPerGroup() {
							for kh := range p.KH {
								for kw := range p.KW {
									iy := MapIndex(p.Mode, oy*p.SH-p.PadT+kh*p.DH, h)
									ix := MapIndex(p.Mode, ox*p.SW-p.PadL+kw*p.DW, wd)
									if iy < 0 || ix < 0 {
										continue
									}
									c := g*p.InPerGroup() + ci
									wv := float64(wk[(ci*p.KH+kh)*p.KW+kw])
									xv := xs[(c*h+iy)*wd+ix]
									if p.Routing == ODConv {
										wv *= rt.coef[p.InC+p.OutC+kh*p.KW+kw]
										xv *= rt.coef[c]
									}
									conv += wv * xv
								}
							}
						}
						ck := literalCoef(p, rt, k, o)
						if p.Routing == ODConv {
							ck *= rt.coef[p.InC+o]
						}
						acc += ck * conv
					}
					i := s*outSz + (o*ho+oy)*wo + ox
					var r float64
					if p.Residual {
						r = e.residual[i]
					}
					y[i] = activate(p.Activation, preActivation(p, w, o, acc, r))
				}
			}
		}
	}
	return y, nil
}
