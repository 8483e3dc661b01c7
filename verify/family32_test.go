package verify

import (
	"math"
	"math/rand/v2"
)

// This file holds a float32 emulation of the whole family, independent of
// the reference: the computation the error model (tolerance.go) describes,
// with the BN folded at load time in float64 and rounded once, the routing
// in float32, the fusion, the per-sample bias, the conv and the epilogue in
// float32, in natural, random, FMA, pairwise, training-time and unfolded
// orders. Bugs can be switched on to check that Compare catches them.

// emu chooses how family32 evaluates a layer.
type emu struct {
	rng      *rand.Rand // random summation orders and exp off by up to 3 ulps; nil: natural order, exp rounded once
	fma      bool       // fused multiply-adds in every dot product
	pairwise bool       // pairwise sums in the conv
	training bool       // y = β̃ + Σ_k π_k·conv(x, W'_k) instead of conv(x, W̃)
	unfolded bool       // BN applied to the conv's output, odconv's α_c to x and α_f to the output
	bug      string     // a bug to emulate (see family32), "" for none
}

// exp32 is a float32 exp: rounded once, or with a random error of up to
// 3 ulps on top (well within ExpErr).
func (m emu) exp32(v float32) float32 {
	r := float32(math.Exp(float64(v)))
	if m.rng != nil && !math.IsInf(float64(r), 0) && r != 0 {
		for range m.rng.IntN(7) - 3 {
			r = math.Nextafter32(r, float32(math.Inf(1)))
		}
		for range 3 - m.rng.IntN(7) {
			r = math.Nextafter32(r, 0)
		}
	}
	return r
}

func (m emu) sigmoid32(z float32) float32 { return 1 / (1 + m.exp32(-z)) }

// order returns 0..n-1 in natural or random order.
func (m emu) order(n int) []int {
	if m.rng != nil {
		return m.rng.Perm(n)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// dot is init + Σ a[i]·b[i] in float32, in the emulation's order.
func (m emu) dot(init float32, a, b []float32) float32 {
	if m.pairwise && !m.fma {
		prods := make([]float32, len(a))
		for i, j := range m.order(len(a)) {
			prods[i] = a[j] * b[j]
		}
		return init + pairwise(prods)
	}
	acc := init
	for _, i := range m.order(len(a)) {
		if m.fma {
			acc = fma32(a[i], b[i], acc)
		} else {
			acc += a[i] * b[i]
		}
	}
	return acc
}

// fc32 is out_j = b_j + Σ_c W[j,c]·in_c (b nil: no bias).
func (m emu) fc32(wt, b, in []float32) []float32 {
	cols := len(in)
	out := make([]float32, len(wt)/cols)
	for j := range out {
		var init float32
		if b != nil {
			init = b[j]
		}
		out[j] = m.dot(init, wt[j*cols:(j+1)*cols], in)
	}
	return out
}

func (m emu) softmax32(z []float32) []float32 {
	mx := float32(math.Inf(-1))
	for _, v := range z {
		mx = max(mx, v)
	}
	e := make([]float32, len(z))
	var sum float32
	for i, v := range z {
		e[i] = m.exp32(v - mx)
	}
	for _, i := range m.order(len(z)) {
		sum += e[i]
	}
	for i := range e {
		e[i] /= sum
	}
	return e
}

// route32 is one sample's routing in float32, in the RoutingLen layout.
func (m emu) route32(p Params, w Weights, xs []float32, h, wd int) []float32 {
	hw := h * wd
	pooled := make([]float32, p.InC)
	for c := range p.InC {
		var s float32
		for _, i := range m.order(hw) {
			s += xs[c*hw+i]
		}
		pooled[c] = s / float32(hw)
	}
	out := make([]float32, p.RoutingLen())
	temper := func(z []float32) {
		for i := range z {
			z[i] /= float32(p.Temperature)
		}
	}
	switch p.Routing {
	case DyNet:
		z := m.fc32(w.FCWeight, w.FCBias, pooled)
		if p.Gate == Sigmoid {
			for j := range z {
				out[j] = m.sigmoid32(z[j])
			}
			break
		}
		zo := make([]float32, p.K)
		for o := range p.OutC {
			for k := range p.K {
				zo[k] = z[k*p.OutC+o]
			}
			for k, v := range m.softmax32(zo) {
				out[k*p.OutC+o] = v
			}
		}
	case CondConv:
		for j, v := range m.fc32(w.RoutingWeight, w.RoutingBias, pooled) {
			out[j] = m.sigmoid32(v)
		}
	case DyCNN:
		v := m.fc32(w.FC1Weight, nil, pooled)
		for a := range v {
			v[a] = max(v[a], 0)
		}
		z := m.fc32(w.FC2Weight, w.FC2Bias, v)
		temper(z)
		copy(out, m.softmax32(z))
	case ODConv:
		v := m.fc32(w.AttnWeight, nil, pooled)
		for a := range v {
			sd := float32(math.Sqrt(float64(w.AttnBNVar[a] + float32(ODConvAttnBNEps))))
			v[a] = max((v[a]-w.AttnBNMean[a])/sd*w.AttnBNWeight[a]+w.AttnBNBias[a], 0)
		}
		filter, spatial, kernel := p.ODHeads()
		off := 0
		for _, hd := range []struct {
			n       int
			present bool
			wt, b   []float32
			soft    bool
		}{{p.InC, true, w.ChannelWeight, w.ChannelBias, false}, {p.OutC, filter, w.FilterWeight, w.FilterBias, false},
			{p.KH * p.KW, spatial, w.SpatialWeight, w.SpatialBias, false}, {p.K, kernel, w.KernelWeight, w.KernelBias, true}} {
			seg := out[off : off+hd.n]
			off += hd.n
			if !hd.present {
				for i := range seg {
					seg[i] = 1
				}
				continue
			}
			z := m.fc32(hd.wt, hd.b, v)
			temper(z)
			if hd.soft {
				copy(seg, m.softmax32(z))
				continue
			}
			for i := range seg {
				seg[i] = m.sigmoid32(z[i])
			}
		}
	}
	return out
}

func (m emu) act32(act string, z float32) float32 {
	switch act {
	case ActReLU:
		return max(z, 0)
	case ActReLU6:
		if m.bug == "relu6 without the clamp at 6" {
			return max(z, 0)
		}
		return min(max(z, 0), 6)
	case ActHardswish:
		return z * min(max(z+3, 0), 6) / 6
	case ActSiLU:
		return z * m.sigmoid32(z)
	case ActSigmoid:
		return m.sigmoid32(z)
	}
	return z
}

// family32 computes the layer in float32. Bugs (m.bug): "α_c per output
// channel" (odconv reads α_c[o mod Cin] instead of α_c of the tap's input
// channel), "α_s transposed" (odconv reads α_s[v,u]), "expert biases
// unmixed" (condconv, dycnn: Σ_k b_k without the coefficients), "expert 0's
// bias" (condconv, dycnn: b_0 only), "relu6 without the clamp at 6".
func family32(p Params, w Weights, x []float32, e Extra, n, h, wd int, m emu) []float32 {
	p = p.WithDefaults()
	ho, wo := p.OutputSize(h, wd)
	taps, nr, khw := p.Taps(), p.RoutingLen(), p.KH*p.KW
	inSz, outSz := p.InC*h*wd, p.OutC*ho*wo
	od := p.Routing == ODConv
	mixed := p.Routing == CondConv || p.Routing == DyCNN

	// Load time, in float64, rounded once: the BN folded into the experts
	// and the biases (unless unfolded).
	scale, shift := make([]float64, p.OutC), make([]float64, p.OutC)
	for o := range p.OutC {
		scale[o], shift[o] = bnFold(p, w, o)
	}
	fold := p.BatchNorm && !m.unfolded
	wk := make([]float32, len(w.Weight)) // W'_k
	for i, v := range w.Weight {
		wk[i] = v
		if fold {
			wk[i] = float32(scale[(i/taps)%p.OutC] * float64(v))
		}
	}
	bk := make([]float32, len(w.Bias)) // b' (dynet, static) or b'_k (condconv, dycnn)
	for i, v := range w.Bias {
		bk[i] = v
		if o := i % p.OutC; fold && mixed {
			bk[i] = float32(scale[o] * float64(v))
		}
	}
	tb := make([]float32, p.OutC) // the shift t (condconv, dycnn, odconv), or the whole bias b' (dynet, static)
	for o := range p.OutC {
		var b float64
		if p.Bias && !mixed {
			b = float64(w.Bias[o])
		}
		switch {
		case fold && mixed:
			tb[o] = float32(shift[o])
		case fold:
			tb[o] = float32(scale[o]*b + shift[o])
		default:
			tb[o] = float32(b)
		}
	}
	s32, t32 := make([]float32, p.OutC), make([]float32, p.OutC)
	for o := range p.OutC {
		s32[o], t32[o] = float32(scale[o]), float32(shift[o])
	}

	y := make([]float32, n*outSz)
	pis, wks, xv := make([]float32, p.K), make([]float32, p.K), make([]float32, taps)
	fused := make([]float32, p.OutC*taps)
	gs := make([]float32, p.OutC*taps) // odconv: the per-tap attention g
	for s := range n {
		xs := x[s*inSz : (s+1)*inSz]
		var c []float32
		if p.ExternalRouting {
			c = e.Routing[s*nr : (s+1)*nr]
		} else {
			c = m.route32(p, w, xs, h, wd)
		}
		// pi is the expert coefficient π[k,o] of the fusion.
		pi := func(k, o int) float32 {
			switch p.Routing {
			case DyNet:
				return c[k*p.OutC+o]
			case CondConv, DyCNN:
				return c[k]
			case ODConv:
				if m.unfolded {
					return c[nr-p.K+k]
				}
				return c[nr-p.K+k] * c[p.InC+o]
			}
			return 1
		}
		for o := range p.OutC {
			for k := range p.K {
				pis[k] = pi(k, o)
			}
			for t := range taps {
				for k := range p.K {
					wks[k] = wk[(k*p.OutC+o)*taps+t]
				}
				f := m.dot(0, pis, wks)
				if od {
					ci := (o/p.OutPerGroup())*p.InPerGroup() + t/khw
					u, v := (t%khw)/p.KW, t%p.KW
					switch m.bug {
					case "α_c per output channel":
						ci = o % p.InC
					case "α_s transposed":
						u, v = v, u
					}
					g := c[p.InC+p.OutC+u*p.KW+v]
					if !m.unfolded {
						g *= c[ci]
					}
					f *= g
					gs[o*taps+t] = g
				}
				fused[o*taps+t] = f
			}
		}
		for o := range p.OutC {
			g := o / p.OutPerGroup()
			bias := tb[o]
			if mixed && p.Bias {
				for k := range p.K {
					pis[k], wks[k] = pi(k, o), bk[k*p.OutC+o]
					switch m.bug {
					case "expert biases unmixed":
						pis[k] = 1
					case "expert 0's bias":
						pis[k] = 0
						if k == 0 {
							pis[k] = 1
						}
					}
				}
				bias = m.dot(bias, pis, wks)
			}
			for oy := range ho {
				for ox := range wo {
					for ci := range p.InPerGroup() {
						ch := g*p.InPerGroup() + ci
						for kh := range p.KH {
							for kw := range p.KW {
								t := (ci*p.KH+kh)*p.KW + kw
								iy := MapIndex(p.Mode, oy*p.SH-p.PadT+kh*p.DH, h)
								ix := MapIndex(p.Mode, ox*p.SW-p.PadL+kw*p.DW, wd)
								xv[t] = 0
								if iy >= 0 && ix >= 0 {
									xv[t] = xs[(ch*h+iy)*wd+ix]
									if od && m.unfolded {
										xv[t] *= c[ch]
									}
								}
							}
						}
					}
					var acc float32
					if m.training {
						acc = bias
						for k := range p.K {
							wrow := wk[(k*p.OutC+o)*taps : (k*p.OutC+o+1)*taps]
							if od { // the per-tap attention on each expert
								sc := make([]float32, taps)
								for t := range taps {
									sc[t] = wrow[t] * gs[o*taps+t]
								}
								wrow = sc
							}
							acc += pi(k, o) * m.dot(0, wrow, xv)
						}
					} else {
						acc = m.dot(bias, fused[o*taps:(o+1)*taps], xv)
					}
					if od && m.unfolded {
						acc *= c[p.InC+o]
					}
					if m.unfolded && p.BatchNorm {
						if m.fma { // the BN as the README writes it
							sd := float32(math.Sqrt(float64(w.BNVar[o] + float32(p.BNEps))))
							acc = (acc-w.BNMean[o])/sd*w.BNWeight[o] + w.BNBias[o]
						} else {
							acc = acc*s32[o] + t32[o]
						}
					}
					i := s*outSz + (o*ho+oy)*wo + ox
					if p.Residual {
						acc += e.Residual[i]
					}
					y[i] = m.act32(p.Activation, acc)
				}
			}
		}
	}
	return y
}
