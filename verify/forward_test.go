package verify

import (
	"math"
	"math/rand/v2"
	"testing"
)

// This file holds a plain float32 DyConv forward pass, independent of
// Reference, in several evaluation orders, for testing the error model:
// every order must pass Compare.

type order int

const (
	orderFused    order = iota // bias first, taps in natural order
	orderReverse               // taps in reverse order, bias last
	orderPairwise              // pairwise summation of the taps
	orderFMA                   // fused multiply-adds, float32 rounding
	orderTraining              // Σ_k π_k·conv(x, W_k) + b
	orderShuffled              // taps in a random order (fixed per call)
	numOrders
)

func (o order) String() string {
	return [...]string{"fused", "reverse", "pairwise", "fma", "training", "shuffled"}[o]
}

func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// routing32 computes the softmax coefficients [K*Cout] in float32.
func routing32(p Params, w Weights, xs []float32, h, wd int, ord order) []float32 {
	hw := h * wd
	pooled := make([]float32, p.InC)
	for c := range p.InC {
		var s float32
		if ord == orderReverse {
			for i := hw - 1; i >= 0; i-- {
				s += xs[c*hw+i]
			}
			pooled[c] = s * (1 / float32(hw))
		} else {
			for _, v := range xs[c*hw : (c+1)*hw] {
				s += v
			}
			pooled[c] = s / float32(hw)
		}
	}
	logit := make([]float32, p.K*p.OutC)
	for j := range logit {
		s := w.FCBias[j]
		for c := range p.InC {
			if ord == orderFMA {
				s = fma32(w.FCWeight[j*p.InC+c], pooled[c], s)
			} else {
				s += w.FCWeight[j*p.InC+c] * pooled[c]
			}
		}
		logit[j] = s
	}
	pi := make([]float32, p.K*p.OutC)
	for o := range p.OutC {
		m := float32(math.Inf(-1))
		for k := range p.K {
			m = max(m, logit[k*p.OutC+o])
		}
		var sum float32
		for k := range p.K {
			e := float32(math.Exp(float64(logit[k*p.OutC+o] - m)))
			pi[k*p.OutC+o] = e
			sum += e
		}
		inv := 1 / sum
		for k := range p.K {
			if ord == orderReverse {
				pi[k*p.OutC+o] *= inv
			} else {
				pi[k*p.OutC+o] /= sum
			}
		}
	}
	return pi
}

// forward32 computes the layer in float32. bugs, when non-nil, is applied to
// the inputs of individual outputs (for the tests that corrupt the
// computation rather than the result).
func forward32(p Params, w Weights, x []float32, n, h, wd int, ord order, rng *rand.Rand) []float32 {
	ho, wo := p.OutputSize(h, wd)
	taps := p.Taps()
	inSz, outSz := p.InC*h*wd, p.OutC*ho*wo
	y := make([]float32, n*outSz)
	perm := make([]int, taps)
	for i := range perm {
		perm[i] = i
	}
	if ord == orderShuffled && rng != nil {
		rng.Shuffle(taps, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	}
	prods := make([]float32, taps)
	xv := make([]float32, taps)
	for s := range n {
		xs := x[s*inSz : (s+1)*inSz]
		pi := routing32(p, w, xs, h, wd, ord)
		fused := make([]float32, p.OutC*taps)
		for o := range p.OutC {
			for t := range taps {
				var f float32
				for k := range p.K {
					if ord == orderFMA {
						f = fma32(pi[k*p.OutC+o], w.Weight[(k*p.OutC+o)*taps+t], f)
					} else {
						f += pi[k*p.OutC+o] * w.Weight[(k*p.OutC+o)*taps+t]
					}
				}
				fused[o*taps+t] = f
			}
		}
		for o := range p.OutC {
			g := o / p.OutPerGroup()
			var b float32
			if p.Bias {
				b = w.Bias[o]
			}
			for oy := range ho {
				for ox := range wo {
					// Gather the taps' inputs (0 for zero padding).
					for ci := range p.InPerGroup() {
						c := g*p.InPerGroup() + ci
						for kh := range p.KH {
							for kw := range p.KW {
								t := (ci*p.KH+kh)*p.KW + kw
								iy := MapIndex(p.Mode, oy*p.SH-p.PadT+kh*p.DH, h)
								ix := MapIndex(p.Mode, ox*p.SW-p.PadL+kw*p.DW, wd)
								xv[t] = 0
								if iy >= 0 && ix >= 0 {
									xv[t] = xs[(c*h+iy)*wd+ix]
								}
							}
						}
					}
					wf := fused[o*taps : (o+1)*taps]
					var acc float32
					switch ord {
					case orderFused:
						acc = b
						for t := range taps {
							acc += wf[t] * xv[t]
						}
					case orderReverse:
						for t := taps - 1; t >= 0; t-- {
							acc += wf[t] * xv[t]
						}
						acc += b
					case orderShuffled:
						for _, t := range perm {
							acc += wf[t] * xv[t]
						}
						acc += b
					case orderFMA:
						acc = b
						for t := range taps {
							acc = fma32(wf[t], xv[t], acc)
						}
					case orderPairwise:
						for t := range taps {
							prods[t] = wf[t] * xv[t]
						}
						acc = pairwise(prods) + b
					case orderTraining:
						acc = b
						for k := range p.K {
							wk := w.Weight[(k*p.OutC+o)*taps : (k*p.OutC+o+1)*taps]
							var conv float32
							for t := range taps {
								conv += wk[t] * xv[t]
							}
							acc += pi[k*p.OutC+o] * conv
						}
					}
					y[s*outSz+(o*ho+oy)*wo+ox] = acc
				}
			}
		}
	}
	return y
}

func pairwise(v []float32) float32 {
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	m := len(v) / 2
	return pairwise(v[:m]) + pairwise(v[m:])
}

// randomCase draws a random layer covering all modes, groups, dilation,
// strides and asymmetric padding, with an input size that the layer
// accepts.
func randomCase(rng *rand.Rand) (p Params, n, h, wd int) {
	modes := []string{Zeros, Reflect, Replicate, Circular}
	for {
		g := 1 + rng.IntN(3)
		if rng.IntN(5) == 0 {
			g = 1 + rng.IntN(8) // depthwise-like
		}
		p = Params{
			InC: g * (1 + rng.IntN(4)), OutC: g * (1 + rng.IntN(4)),
			KH: 1 + rng.IntN(5), KW: 1 + rng.IntN(5),
			SH: 1 + rng.IntN(3), SW: 1 + rng.IntN(3),
			DH: 1 + rng.IntN(3), DW: 1 + rng.IntN(3),
			PadT: rng.IntN(4), PadB: rng.IntN(4), PadL: rng.IntN(4), PadR: rng.IntN(4),
			Groups: g, K: 1 + rng.IntN(5), Bias: rng.IntN(3) > 0, Mode: modes[rng.IntN(4)],
		}
		if rng.IntN(4) == 0 {
			p.InC = p.Groups
			p.OutC = p.Groups * (1 + rng.IntN(2))
		}
		n, h, wd = 1+rng.IntN(2), 1+rng.IntN(12), 1+rng.IntN(12)
		if p.Check() == nil && p.CheckInput(h, wd) == nil {
			return p, n, h, wd
		}
	}
}

// randomReference draws a random case (randomCase), its weights and input,
// and computes its reference.
func randomReference(t *testing.T, rng *rand.Rand) (p Params, w Weights, x []float32, n, h, wd int, r *Result) {
	t.Helper()
	p, n, h, wd = randomCase(rng)
	w = RandomWeights(p, rng)
	x = RandomInput(n, p.InC*h*wd, rng)
	var err error
	if r, err = Reference(p, w, x, n, h, wd); err != nil {
		t.Fatalf("%v %dx%d: %v", p, h, wd, err)
	}
	return p, w, x, n, h, wd, r
}
