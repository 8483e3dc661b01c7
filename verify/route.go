package verify

import "math"

// sampleRouting is one sample's routing coefficients in the RoutingLen
// layout (family.go), together with a bound on each coefficient's relative
// float32 error: |ĉ − c| ≤ rel·|c| (steps 1–3 of the error model in
// tolerance.go). A routing given from outside has rel 0.
type sampleRouting struct {
	coef []float64
	rel  []float64
}

// route computes one sample's routing coefficients, in float64, from the
// sample xs [Cin,H,W] (p has its defaults filled in), or takes them from
// ext when the layer's routing comes from outside. Static layers have none.
func route(p Params, w Weights, xs []float64, h, wd int, ext []float64) sampleRouting {
	n := p.RoutingLen()
	r := sampleRouting{coef: make([]float64, n), rel: make([]float64, n)}
	if p.ExternalRouting {
		copy(r.coef, ext[:n])
		return r
	}
	switch p.Routing {
	case DyNet:
		pooled, ep := pool(p, xs, h, wd)
		z, e := fc(w.FCWeight, w.FCBias, pooled, ep)
		k, cout := p.K, p.OutC
		zl, el := make([]float64, k), make([]float64, k)
		for o := range cout {
			for j := range k {
				zl[j], el[j] = z[j*cout+o], e[j*cout+o]
			}
			if p.Gate == Sigmoid {
				for j := range k {
					r.coef[j*cout+o], r.rel[j*cout+o] = sigmoidErr(zl[j], el[j])
				}
				continue
			}
			pi, rel := softmaxErr(zl, el)
			for j := range k {
				r.coef[j*cout+o], r.rel[j*cout+o] = pi[j], rel
			}
		}
	case CondConv:
		pooled, ep := pool(p, xs, h, wd)
		z, e := fc(w.RoutingWeight, w.RoutingBias, pooled, ep)
		for j := range p.K {
			r.coef[j], r.rel[j] = sigmoidErr(z[j], e[j])
		}
	case DyCNN:
		pooled, ep := pool(p, xs, h, wd)
		v, ev := fc(w.FC1Weight, nil, pooled, ep)
		for a := range v {
			v[a] = math.Max(v[a], 0) // relu: exact and 1-Lipschitz, so ev carries over
		}
		z, e := fc(w.FC2Weight, w.FC2Bias, v, ev)
		temper(z, e, p.Temperature)
		pi, rel := softmaxErr(z, e)
		for j := range p.K {
			r.coef[j], r.rel[j] = pi[j], rel
		}
	case ODConv:
		pooled, ep := pool(p, xs, h, wd)
		v, ev := fc(w.AttnWeight, nil, pooled, ep)
		for a := range v {
			v[a], ev[a] = attnBN(v[a], ev[a], float64(w.AttnBNWeight[a]), float64(w.AttnBNBias[a]),
				float64(w.AttnBNMean[a]), float64(w.AttnBNVar[a]))
		}
		filter, spatial, kernel := p.ODHeads()
		off := 0
		head := func(n int, present bool, wt, b []float32, soft bool) {
			seg, segRel := r.coef[off:off+n], r.rel[off:off+n]
			off += n
			if !present {
				for i := range seg {
					seg[i] = 1
				}
				return
			}
			z, e := fc(wt, b, v, ev)
			temper(z, e, p.Temperature)
			if soft {
				pi, rel := softmaxErr(z, e)
				copy(seg, pi)
				for i := range segRel {
					segRel[i] = rel
				}
				return
			}
			for i := range seg {
				seg[i], segRel[i] = sigmoidErr(z[i], e[i])
			}
		}
		head(p.InC, true, w.ChannelWeight, w.ChannelBias, false)
		head(p.OutC, filter, w.FilterWeight, w.FilterBias, false)
		head(p.KH*p.KW, spatial, w.SpatialWeight, w.SpatialBias, false)
		head(p.K, kernel, w.KernelWeight, w.KernelBias, true)
	}
	return r
}

// pool returns the mean of every input channel of one sample and the bound
// on its float32 error (step 1).
func pool(p Params, xs []float64, h, wd int) (pooled, ep []float64) {
	hw := h * wd
	pooled, ep = make([]float64, p.InC), make([]float64, p.InC)
	for c := range p.InC {
		var s, a float64
		for _, v := range xs[c*hw : (c+1)*hw] {
			s += v
			a += math.Abs(v)
		}
		pooled[c] = s / float64(hw)
		ep[c] = poolingErr(a/float64(hw), hw)
	}
	return pooled, ep
}

// fc computes out_j = b_j + Σ_c W[j,c]·in_c (no bias when b is nil), W
// read row-major as [len(W)/len(in), len(in)], and the bound on the float32
// error of each out_j given the errors inErr of the inputs (step 2).
func fc(wt, b []float32, in, inErr []float64) (out, outErr []float64) {
	cols := len(in)
	rows := len(wt) / max(cols, 1)
	out, outErr = make([]float64, rows), make([]float64, rows)
	for j := range rows {
		var s, mag, prop float64
		if b != nil {
			s = float64(b[j])
			mag = math.Abs(s)
		}
		for c, fw := range wt[j*cols : (j+1)*cols] {
			s += float64(fw) * in[c]
			aw := math.Abs(float64(fw))
			mag += aw * (math.Abs(in[c]) + inErr[c])
			prop += aw * inErr[c]
		}
		out[j], outErr[j] = s, fcErr(mag, prop, cols)
	}
	return out, outErr
}

// temper divides logits z by the temperature t in place, and widens their
// error bounds e by the division's rounding (step 3, temperature).
func temper(z, e []float64, t float64) {
	for i := range z {
		e[i] = temperErr(z[i], e[i], t)
		z[i] /= t
	}
}

// softmaxErr returns softmax(z) and the relative error bound of every
// coefficient, given the logits' error bounds e (step 3).
func softmaxErr(z, e []float64) (pi []float64, rel float64) {
	m, lo, emax := math.Inf(-1), math.Inf(1), 0.0
	for i, v := range z {
		m, lo, emax = math.Max(m, v), math.Min(lo, v), math.Max(emax, e[i])
	}
	pi = make([]float64, len(z))
	sum := 0.0
	for i, v := range z {
		pi[i] = math.Exp(v - m)
		sum += pi[i]
	}
	for i := range pi {
		pi[i] /= sum
	}
	return pi, softmaxRelErr(emax, m-lo, len(z))
}

// sigmoidErr returns σ(z) and its relative error bound given the logit's
// error bound e (step 3, sigmoid).
func sigmoidErr(z, e float64) (float64, float64) {
	return sigmoid(z), sigmoidRelErr(e)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// attnBN applies ODConv's attention BatchNorm (eps ODConvAttnBNEps) and the
// ReLU after it to v, and returns the result with its error bound given v's
// error ev (step 2, ODConv).
func attnBN(v, ev, gamma, beta, mean, variance float64) (float64, float64) {
	s := gamma / math.Sqrt(variance+ODConvAttnBNEps)
	a := (v-mean)/math.Sqrt(variance+ODConvAttnBNEps)*gamma + beta
	return math.Max(a, 0), attnBNErr(v, ev, s, beta, mean)
}
