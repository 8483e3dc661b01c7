package verify

import (
	"fmt"
	"math"
)

// Result is what Reference computes for a batch: the float64 output, the
// per-element error bound that a correct float32 implementation stays
// within (see the error model in tolerance.go), and the routing
// coefficients.
type Result struct {
	Y     []float64 // output [N,Cout,Ho,Wo]
	Bound []float64 // per-element bound on |float32 result - Y|, same layout as Y
	Pi    []float64 // softmax routing coefficients [N,K,Cout]
	N     int       // batch size
	Ho    int       // output height
	Wo    int       // output width
	C     int       // output channels (Cout)
}

// maxRefElems caps the output size Reference agrees to compute, so that a
// nonsensical shape fails with an error instead of exhausting memory.
const maxRefElems = 1 << 28

// checkCall validates a Reference call and returns the output size.
func checkCall(p Params, w Weights, x []float32, n, h, wd int) (ho, wo int, err error) {
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
		{n, p.InC, h, wd},
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
	if total, ok := mulInts(n, p.OutC, ho, wo); !ok || total > maxRefElems {
		return 0, 0, fmt.Errorf("output [%d %d %d %d] is too large for the reference", n, p.OutC, ho, wo)
	}
	for _, s := range []struct {
		name string
		v    []float32
	}{{"Weight", w.Weight}, {"Bias", w.Bias}, {"FCWeight", w.FCWeight}, {"FCBias", w.FCBias}, {"input", x}} {
		for i, v := range s.v {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, 0, fmt.Errorf("%s[%d] is %v; the reference needs finite values", s.name, i, v)
			}
		}
	}
	return ho, wo, nil
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

// routing is one sample's coefficient branch: the softmax coefficients
// pi[k*Cout+o] and, per output channel, the relative error bound rW[o] of a
// float32 fused kernel (see fusedRelErr).
type routing struct {
	pi []float64
	rW []float64
}

// route computes pooled = mean(x), logits = FCWeight·pooled + FCBias and the
// softmax over the K experts of each output channel, for one sample xs
// [Cin,H,W], in float64, together with the error bounds that the error model
// propagates through these steps.
func route(p Params, w Weights, xs []float32, h, wd int) routing {
	hw := h * wd
	pooled := make([]float64, p.InC)
	poolErr := make([]float64, p.InC) // bound on |float32 pooled - pooled|
	for c := range p.InC {
		var s, a float64
		for _, v := range xs[c*hw : (c+1)*hw] {
			s += float64(v)
			a += math.Abs(float64(v))
		}
		pooled[c] = s / float64(hw)
		poolErr[c] = poolingErr(a/float64(hw), hw)
	}
	nl := p.K * p.OutC
	logit := make([]float64, nl)
	logitErr := make([]float64, nl)
	for j := range nl {
		row := w.FCWeight[j*p.InC : (j+1)*p.InC]
		s := float64(w.FCBias[j])
		mag := math.Abs(float64(w.FCBias[j])) // |b| + Σ|W|·(|pooled|+err)
		prop := 0.0                           // Σ|W|·err: pooling error carried through the FC
		for c, fw := range row {
			s += float64(fw) * pooled[c]
			aw := math.Abs(float64(fw))
			mag += aw * (math.Abs(pooled[c]) + poolErr[c])
			prop += aw * poolErr[c]
		}
		logit[j] = s
		logitErr[j] = fcErr(mag, prop, p.InC)
	}
	r := routing{pi: make([]float64, nl), rW: make([]float64, p.OutC)}
	for o := range p.OutC {
		m, lo, emax := math.Inf(-1), math.Inf(1), 0.0
		for k := range p.K {
			j := k*p.OutC + o
			m = math.Max(m, logit[j])
			lo = math.Min(lo, logit[j])
			emax = math.Max(emax, logitErr[j])
		}
		var sum float64
		for k := range p.K {
			e := math.Exp(logit[k*p.OutC+o] - m)
			r.pi[k*p.OutC+o] = e
			sum += e
		}
		for k := range p.K {
			r.pi[k*p.OutC+o] /= sum
		}
		r.rW[o] = fusedRelErr(softmaxRelErr(emax, m-lo, p.K), p.K)
	}
	return r
}

// Reference computes a DyConv layer on a batch x [N,Cin,H,W] the way the
// layer is defined, in float64 with plain nested loops: per sample, the
// routing coefficients pi = softmax_K(FC(mean_HW(x))), the fused kernel
// W'[o] = Σ_k pi[k,o]·Weight[k,o], and y = conv2d(x, W') + bias with the
// layer's stride, per-side padding (mode as MapIndex defines it), dilation
// and groups. Alongside Y it computes Bound, the error model's bound for a
// float32 implementation (see tolerance.go), and returns the coefficients
// in Pi. It returns an error when the layer, the input size, the slice
// lengths or the values (which must be finite) are invalid.
func Reference(p Params, w Weights, x []float32, n, h, wd int) (*Result, error) {
	ho, wo, err := checkCall(p, w, x, n, h, wd)
	if err != nil {
		return nil, err
	}
	taps := p.Taps()
	inSz, outSz := p.InC*h*wd, p.OutC*ho*wo
	res := &Result{
		Y: make([]float64, n*outSz), Bound: make([]float64, n*outSz),
		Pi: make([]float64, n*p.K*p.OutC), N: n, Ho: ho, Wo: wo, C: p.OutC,
	}
	fused := make([]float64, p.OutC*taps) // W'
	absW := make([]float64, p.OutC*taps)  // Σ_k pi·|W_k|
	maxW := make([]float64, p.OutC*taps)  // max_k |W_k|
	for s := range n {
		xs := x[s*inSz : (s+1)*inSz]
		rt := route(p, w, xs, h, wd)
		copy(res.Pi[s*p.K*p.OutC:], rt.pi)
		for o := range p.OutC {
			for t := range taps {
				var f, a, mx float64
				for k := range p.K {
					wk := float64(w.Weight[(k*p.OutC+o)*taps+t])
					pk := rt.pi[k*p.OutC+o]
					f += pk * wk
					a += pk * math.Abs(wk)
					mx = math.Max(mx, math.Abs(wk))
				}
				fused[o*taps+t], absW[o*taps+t], maxW[o*taps+t] = f, a, mx
			}
		}
		for o := range p.OutC {
			g := o / p.OutPerGroup()
			var b float64
			if p.Bias {
				b = float64(w.Bias[o])
			}
			for oy := range ho {
				for ox := range wo {
					var sum, absSum, maxSum, xSum float64
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
								xv := float64(xs[(c*h+iy)*wd+ix])
								sum += fused[t] * xv
								absSum += absW[t] * math.Abs(xv)
								maxSum += maxW[t] * math.Abs(xv)
								xSum += math.Abs(xv)
							}
						}
					}
					i := s*outSz + (o*ho+oy)*wo + ox
					y := sum + b
					res.Y[i] = y
					res.Bound[i] = outputBound(p, math.Abs(b), absSum, maxSum, xSum, y, rt.rW[o])
				}
			}
		}
	}
	return res, nil
}

// ReferenceTraining computes the same layer in the paper's training-time
// form, y = Σ_k pi_k·conv2d(x, Weight_k) + bias, in float64: K separate
// convolutions mixed by the routing coefficients. It is mathematically equal
// to Reference and serves as an independent check of it. The output layout
// is [N,Cout,Ho,Wo].
func ReferenceTraining(p Params, w Weights, x []float32, n, h, wd int) ([]float64, error) {
	ho, wo, err := checkCall(p, w, x, n, h, wd)
	if err != nil {
		return nil, err
	}
	taps := p.Taps()
	inSz, outSz := p.InC*h*wd, p.OutC*ho*wo
	y := make([]float64, n*outSz)
	for s := range n {
		xs := x[s*inSz : (s+1)*inSz]
		pi := route(p, w, xs, h, wd).pi
		for o := range p.OutC {
			g := o / p.OutPerGroup()
			for oy := range ho {
				for ox := range wo {
					acc := 0.0
					if p.Bias {
						acc = float64(w.Bias[o])
					}
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
									conv += float64(wk[(ci*p.KH+kh)*p.KW+kw]) * float64(xs[(c*h+iy)*wd+ix])
								}
							}
						}
						acc += pi[k*p.OutC+o] * conv
					}
					y[s*outSz+(o*ho+oy)*wo+ox] = acc
				}
			}
		}
	}
	return y, nil
}
