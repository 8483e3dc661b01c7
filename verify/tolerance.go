package verify

import (
	"fmt"
	"math"
	"strconv"
)

// The error model.
//
// Reference returns, with every output y, a bound on |ŷ − y| for any correct
// float32 implementation ŷ of the layer. The bound is derived from the
// accumulation lengths and the magnitudes of the terms that are summed, with
// the standard rounding-error analysis of sums and dot products (Higham,
// Accuracy and Stability of Numerical Algorithms, ch. 3), so that it holds
// for every summation order, blocking, vectorization, with or without FMA.
//
// Notation: u = Unit = 2^-24, the float32 unit roundoff, and
// γ(n) = n·u/(1−n·u). A float32 sum of n+1 terms, or a dot product of
// length n, evaluated in any order has |error| ≤ γ(n)·Σ|terms|; a product
// of m factors each off by a relative r_i and rounded once is off by a
// relative (1+u)·Π(1+r_i) − 1. All the Σ|·| below are computed in float64
// by Reference alongside Y.
//
// The float32 computation covered. At load time, in float64 and rounded
// once to float32, the BN (scale s[o] = γ[o]/sqrt(var[o]+eps), shift
// t[o] = β[o] − s[o]·mean[o]) is folded into the experts, W'_k[o,·] =
// fl(s[o]·W_k[o,·]), and the bias: dynet and static b'[o] = fl(s[o]·b[o] + t[o]);
// condconv and dycnn b'_k[o] = fl(s[o]·b_k[o]) and the shift fl(t[o]); odconv
// the shift fl(t[o]). Without BN, s = 1 and t = 0 and nothing is rounded.
// Per sample: pooling, the routing's FCs, BN, gates and softmax in float32
// (or better); the fusion W̃[o,t] = Σ_k π[k,o]·W'_k[o,t] in float32, with
// π[k,o] the coefficient of expert k for channel o (odconv: fl(α_w[k]·α_f[o]),
// then W̃[o,t] = fl(W̃[o,t]·g[t]) with g = fl(α_c[c]·α_s[u,v]) for tap
// t = (c,u,v)); the bias β̃[o] = t[o] + Σ_k π_k·b'_k[o] (condconv, dycnn) or
// b'[o]; the conv from that bias in any order; z = conv + residual, rounded
// once; the activation in float32 operations. Reorderings that round a few
// more times (the BN or α_f applied to the conv's output, x scaled by α_c
// before the conv, the residual added into the accumulator, the paper's
// training-time order) are covered by the margins of steps 6 and 8.
//
//  1. Pooling. pooled_c = Σ_{H·W} x / (H·W): a sum of H·W terms then a
//     division (or a multiplication by a rounded 1/(H·W)), so
//     |δpooled_c| ≤ γ(H·W+2)·mean|x_c| =: ep_c.
//
//  2. Fully connected layers. An output out_j = b_j + Σ_c F_jc·in_c (a
//     dot product of n = len(in) terms plus the bias; b_j = 0 where there
//     is none), on computed inputs off by at most e_c, is off by at most
//     E_j = γ(n+2)·(|b_j| + Σ_c |F_jc|·(|in_c|+e_c)) + Σ_c |F_jc|·e_c.
//     This gives the logits of dynet's coefficient FC and condconv's
//     routing Linear (in = pooled), and DY-CNN's two layers: fc1 (no
//     bias), then the ReLU, which is exact and 1-Lipschitz so the error of
//     fc1 carries over unchanged, then fc2. ODConv's attention: fc (no
//     bias), then its BN a = (v − m)·s_a + β_a with s_a = γ_a/sqrt(var_a + 1e-5)
//     evaluated in a few float32 operations, off by at most
//     |s_a|·e_v + γ(6)·(|s_a|·(|v|+|m|+e_v) + |β_a|), then the ReLU, then
//     each head's FC on a.
//
//  3. Gates. A temperature divides the logits (DY-CNN, every ODConv
//     head): l = z/T, off by at most (E + γ(2)·(|z|+E))/T (a division or a
//     multiplication by a rounded 1/T).
//     Softmax over K logits (dynet per output channel, DY-CNN, ODConv's
//     kernel head). Let Emax be the largest logit error and R the range of
//     the K logits. Subtracting the (computed) maximum shifts all logits
//     alike, which softmax ignores; rounding l−m perturbs each logit by at
//     most u·(R+2·Emax). So every logit is off by at most
//     D = Emax + u·(R+2·Emax), and as π_k(l+δ) = π_k·e^{δ_k} / Σ_i π_i·e^{δ_i},
//     |δπ_k| ≤ π_k·(e^{2D}−1) (the "|dπ| ≤ π·2·max|d logit|" rule, exactly).
//     Evaluating it in float32 adds the relative errors of an exp (ExpErr),
//     of the K-term sum of positive exps (γ(K−1)) and of the division (u, or
//     2u through a reciprocal): r_fp = (1+ExpErr)(1+u)² / ((1−ExpErr)(1−γ(K−1))) − 1.
//     In all, |π̂_k − π_k| ≤ rπ·π_k with rπ = e^{2D}·(1+r_fp) − 1.
//     Sigmoid (dynet's sigmoid gate, condconv, ODConv's channel, filter and
//     spatial heads): σ(z+δ)/σ(z) lies in [e^{−|δ|}, e^{|δ|}], and
//     1/(1+exp(−z)) in float32 is off by a relative
//     r_σ = (1+u)/((1−ExpErr)(1−u)) − 1, so |σ̂ − σ| ≤ (e^E·(1+r_σ) − 1)·σ.
//     A routing given from outside is exact (relative error 0).
//
//  4. Fusion. Every coefficient c and its float32 value ĉ lie in [0, 1]
//     (up to a rounding), so besides |ĉ − c| ≤ r·c the cruder
//     |ĉ − c| ≤ 1+8u holds; let dc = min(r·c, 1+8u). That covers logits so
//     large that the float32 routing may pick another expert. The expert
//     coefficient π_k of channel o is the coefficient itself (dynet π[k,o];
//     condconv, dycnn c[k]; static 1), or for ODConv fl(α_w[k]·α_f[o]) with
//     relative error (1+r_w)(1+r_f)(1+u) − 1. With W'_k = s·W_k exactly,
//     A[t] = Σ_k π_k·|W'_k[t]| and D[t] = Σ_k dπ_k·|W'_k[t]|, the float32
//     W̃[t] = Σ_k π̂_k·fl(W'_k[t]) (K products, K−1 sums, one rounding of
//     each W'_k) is off by at most
//     e[t] = (1+u)·D + u·A + γ(K)·(1+u)·(A+D) ≤ (1+γ(K+1))·D[t] + γ(K+1)·A[t].
//     ODConv then multiplies by ĝ = fl(α̂_c·α̂_s), whose relative error is
//     r_g = (1+r_c)(1+r_s)(1+u) − 1 (dg = min(r_g·g, 1+8u)), and rounds:
//     e[t] ← (g+dg)(1+u)·e[t] + (dg(1+u) + u·g)·A[t] and A[t] ← g·A[t].
//     A[t] is the magnitude of the exact effective weight, so |Ŵ̃[t]| ≤ A[t] + e[t].
//
//  5. Bias. Its magnitude |B| below is the sum of its parts' magnitudes,
//     with |t| counted as T = |β| + |s·mean|, so that it also bounds the
//     terms of the reorderings that do not fold the BN (the conv's bias
//     scaled, the mean subtracted, β added, each rounded). Dynet and
//     static: B = s·b + t, rounded once when there is a BN: |B| = |s·b| + T,
//     e_B = u·|B| (0 without BN). Condconv and dycnn: B = t + Σ_k π_k·s·b_k;
//     with Ab = Σ_k π_k·|s·b_k| and Db = Σ_k dπ_k·|s·b_k|, the float32
//     t̂ + Σ_k π̂_k·b̂'_k (K+1 terms) is off by at most
//     e_B = (1+γ(K+2))·Db + γ(K+2)·(Ab + T), with |B| = T + Ab. ODConv:
//     B = t, |B| = T, e_B = u·T.
//
//  6. Convolution and residual. conv = B + Σ_t W̃[t]·x_t over the
//     L = Cin/groups·KH·KW taps (a padding tap reads an exact zero or an
//     exact input value), then z = conv + r with the residual r. Let
//     S = Σ_t A[t]·|x_t| and F = Σ_t e[t]·|x_t|. Since |Ŵ̃[t]| ≤ A[t] + e[t],
//     |ẑ − z| ≤ E_z = γ(n)·(|B| + e_B + S + F + |r|) + e_B + F,
//     with n = L + K + 5 in place of the L+2 that the order of the float32
//     computation needs: the margin covers the training-time order
//     Σ_k π_k·conv(x, W_k) + b (K convolutions with error γ(L) each, then a
//     K-term mix with γ(K+1)) and up to three more roundings of the terms
//     (α_c applied to x, α_f or the BN's scale applied to the conv's
//     output, the residual added into the accumulator).
//
//  7. Activation. With the exact pre-activation z off by at most E_z, the
//     output f(ẑ) is off by at most Lip·E_z, where Lip is the largest
//     |f'| on [z − 2·E_z, z + 2·E_z] (wider than needed, see step 8):
//     1 for the identity; 1 for relu and relu6 where the interval meets
//     (0, ∞), resp. (0, 6), else 0; hardswish (2ζ+3)/6 on [−3, 3], 0 below,
//     1 above (at most 1.5); silu σ(ζ)(1 + ζ(1−σ(ζ))) (at most 1.0998, at
//     ζ = ±2.3994); sigmoid σ(ζ)(1−σ(ζ)) (at most 0.25). Evaluating f in
//     float32 adds a relative error r_f of |f(ẑ)| ≤ |f(z)| + Lip·E_z: 0 for
//     the identity, relu and relu6 (exact); γ(4) for hardswish (z+3, the
//     product and the division by 6, the clamps being exact); r_σ for
//     sigmoid; (1+r_σ)(1+u) − 1 for silu.
//     So |f̂ − f(z)| ≤ E_f = Lip·E_z + r_f·(|f(z)| + Lip·E_z).
//
//  8. Safety and floors. The bound returned is
//     SafetyFactor·E_f + FloorRel·u·|y| + Tiny·n·(1 + |B| + |r| + Σ_t (1+M[t]+A[t]+e[t])·|x_t|),
//     with M[t] = max_k |W'_k[t]|.
//     SafetyFactor = 2 absorbs the float64 reference's own rounding (~1e-16
//     relative) and leaves room for implementations whose steps round once
//     or twice more than the derivation counts (say, scaling the pooled sum
//     after the FC, or storing intermediates); the activation's Lipschitz
//     constant is taken over the interval that this wider error reaches.
//     FloorRel·u·|y| is a floor relative to the output magnitude for exp
//     and division routines less accurate than ExpErr and for a final
//     rounding to float32 after wider accumulation. The Tiny term covers
//     underflow, including flush-to-zero of subnormal values (an absolute
//     error of at most 2^-126 per operation), and exp's underflow in a
//     sigmoid of a very negative z; it matters only for outputs that are
//     themselves tiny.
//
// Assumptions: each output is computed from the products that define it
// (direct convolution, im2col + GEMM, any order or blocking); transform
// algorithms (Winograd, FFT) are not covered; nothing overflows; the
// inputs are the same float32 values the reference gets.
//
// Tightness: the bound is about 2·L²·u times the average term |W̃[t]·x_t|
// (times the activation's slope). Dropping one average tap of one output,
// or reading a wrong tap, a wrong channel, a missing padding value or a
// stale output, changes the output by about one term, so it is caught for
// L up to roughly 2000 taps; bugs that touch more terms or more outputs
// (the usual kind: a missing or mis-eps'd BN, a wrong temperature, gate,
// head or expert bias, a missing residual, the wrong activation or a
// missing clamp) are caught far beyond. verify's tests measure both.
const (
	// Unit is the float32 unit roundoff u = 2^-24.
	Unit = 0x1p-24
	// ExpErr is the relative error assumed for one exp evaluation in the
	// softmax and the sigmoid: 8u, four float32 ulps.
	ExpErr = 8 * Unit
	// SafetyFactor multiplies the derived bound (step 8 above).
	SafetyFactor = 2.0
	// FloorRel scales the floor FloorRel·u·|y| added to every bound.
	FloorRel = 4.0
	// Tiny is the absolute error per operation allowed for underflow and
	// flush-to-zero.
	Tiny = 0x1p-126
)

// coefCap bounds |ĉ − c| for two routing coefficients in [0, 1] (step 4).
const coefCap = 1 + 8*Unit

// gamma is γ(n) = n·u/(1−n·u), or +Inf when n·u ≥ 1.
func gamma(n int) float64 {
	nu := float64(n) * Unit
	if nu >= 1 {
		return math.Inf(1)
	}
	return nu / (1 - nu)
}

// poolingErr is step 1: the bound on the float32 mean of hw values whose
// mean absolute value is absMean.
func poolingErr(absMean float64, hw int) float64 { return gamma(hw+2) * absMean }

// fcErr is step 2: mag = |b| + Σ|F|·(|in|+e), prop = Σ|F|·e, n inputs.
func fcErr(mag, prop float64, n int) float64 { return gamma(n+2)*mag + prop }

// attnBNErr is step 2 for ODConv's attention BN with scale s, on an input
// v off by at most ev.
func attnBNErr(v, ev, s, beta, mean float64) float64 {
	s = math.Abs(s)
	return s*ev + gamma(6)*(s*(math.Abs(v)+math.Abs(mean)+ev)+math.Abs(beta))
}

// temperErr is step 3: the error bound of z/T for a logit z off by e.
func temperErr(z, e, t float64) float64 { return (e + gamma(2)*(math.Abs(z)+e)) / t }

// softmaxRelErr is step 3: the relative error rπ of every coefficient of a
// K-way softmax whose logits are each off by at most emax and span rng.
func softmaxRelErr(emax, rng float64, k int) float64 {
	d := emax + Unit*(rng+2*emax)
	rfp := (1+ExpErr)*(1+Unit)*(1+Unit)/((1-ExpErr)*(1-gamma(k-1))) - 1
	return math.Exp(2*d)*(1+rfp) - 1
}

// sigmoidEvalRel is r_σ of step 3: the relative error of 1/(1+exp(−z))
// evaluated in float32.
const sigmoidEvalRel = (1+Unit)/((1-ExpErr)*(1-Unit)) - 1

// sigmoidRelErr is step 3: the relative error of σ of a logit off by e.
func sigmoidRelErr(e float64) float64 { return math.Exp(e)*(1+sigmoidEvalRel) - 1 }

// coefErr is dc of step 4: the bound on |ĉ − c| for a coefficient c with
// relative error bound r.
func coefErr(c, r float64) float64 {
	d := r * math.Abs(c)
	if !(d <= coefCap) { // also NaN (an infinite r times c = 0)
		return coefCap
	}
	return d
}

// fusedErr is step 4: the bound on the error of W̃[t] = Σ_k π_k·W'_k[t]
// given A = Σ_k π_k|W'_k[t]| and D = Σ_k dπ_k|W'_k[t]|.
func fusedErr(a, d float64, k int) float64 { return (1+gamma(k+1))*d + gamma(k+1)*a }

// bnFold returns the BN's scale s[o] and shift t[o] = β − s·mean, or (1, 0)
// without BN.
func bnFold(p Params, w Weights, o int) (s, t float64) {
	if !p.BatchNorm {
		return 1, 0
	}
	s = float64(w.BNWeight[o]) / math.Sqrt(float64(w.BNVar[o])+p.BNEps)
	return s, float64(w.BNBias[o]) - s*float64(w.BNMean[o])
}

// mixCoef is the coefficient π_k of expert k for output channel o in the
// fusion of step 4, with its relative error bound.
func mixCoef(p Params, rt sampleRouting, k, o int) (c, r float64) {
	switch p.Routing {
	case DyNet:
		j := k*p.OutC + o
		return rt.coef[j], rt.rel[j]
	case CondConv, DyCNN:
		return rt.coef[k], rt.rel[k]
	case ODConv:
		kw, f := p.InC+p.OutC+p.KH*p.KW+k, p.InC+o
		return rt.coef[kw] * rt.coef[f], (1+rt.rel[kw])*(1+rt.rel[f])*(1+Unit) - 1
	}
	return 1, 0
}

// tapMag is one tap's part of steps 4 and 8: a the magnitude A[t] of the
// exact effective weight, e the bound e[t] on the float32 fused weight's
// error, m = max_k |W'_k[t]|.
type tapMag struct{ a, e, m float64 }

// chanMix is what step 4 needs of one output channel o: |s[o]| and each
// expert's coefficient π_k with its relative error bound.
type chanMix struct {
	s    float64
	c, r []float64
}

// channelMix returns output channel o's chanMix for a sample routed by rt.
func channelMix(p Params, w Weights, rt sampleRouting, o int) chanMix {
	s, _ := bnFold(p, w, o)
	m := chanMix{s: math.Abs(s), c: make([]float64, p.K), r: make([]float64, p.K)}
	for k := range p.K {
		m.c[k], m.r[k] = mixCoef(p, rt, k, o)
	}
	return m
}

// tapMagnitude is step 4 for output channel o (whose chanMix is m) and tap
// t (index into the Cin/groups·KH·KW taps) of one sample routed by rt.
func tapMagnitude(p Params, w Weights, rt sampleRouting, m chanMix, o, t int) tapMag {
	taps := p.Taps()
	var a, d, mx float64
	for k := range p.K {
		wk := m.s * math.Abs(float64(w.Weight[(k*p.OutC+o)*taps+t]))
		a += math.Abs(m.c[k]) * wk
		d += coefErr(m.c[k], m.r[k]) * wk
		mx = math.Max(mx, wk)
	}
	e := fusedErr(a, d, p.K)
	if p.Routing == ODConv {
		khw := p.KH * p.KW
		c := (o/p.OutPerGroup())*p.InPerGroup() + t/khw
		sp := p.InC + p.OutC + t%khw
		g := rt.coef[c] * rt.coef[sp]
		dg := coefErr(g, (1+rt.rel[c])*(1+rt.rel[sp])*(1+Unit)-1)
		g = math.Abs(g)
		e = (g+dg)*(1+Unit)*e + (dg*(1+Unit)+Unit*g)*a
		a *= g
	}
	return tapMag{a, e, mx}
}

// biasMag is step 5 for one output channel: mag the bias's magnitude, err
// the bound e_B on its float32 error.
type biasMag struct{ mag, err float64 }

// biasMagnitude is step 5 for output channel o of one sample routed by rt.
func biasMagnitude(p Params, w Weights, rt sampleRouting, o int) biasMag {
	s, _ := bnFold(p, w, o)
	var tmag float64 // |β| + |s·mean|, the magnitude of the BN's shift
	if p.BatchNorm {
		tmag = math.Abs(float64(w.BNBias[o])) + math.Abs(s*float64(w.BNMean[o]))
	}
	switch p.Routing {
	case CondConv, DyCNN:
		var ab, db float64
		if p.Bias {
			for k := range p.K {
				bk := math.Abs(s * float64(w.Bias[k*p.OutC+o]))
				ab += math.Abs(rt.coef[k]) * bk
				db += coefErr(rt.coef[k], rt.rel[k]) * bk
			}
		}
		return biasMag{mag: tmag + ab, err: (1+gamma(p.K+2))*db + gamma(p.K+2)*(ab+tmag)}
	}
	b := tmag
	if p.Bias && p.Routing != ODConv {
		b += math.Abs(s * float64(w.Bias[o]))
	}
	if !p.BatchNorm {
		return biasMag{mag: b}
	}
	return biasMag{mag: b, err: Unit * b}
}

// outMag accumulates one output's sums over its taps for steps 6 and 8:
// S = Σ A|x|, F = Σ e|x| and Σ (1+M+A+e)|x|.
type outMag struct{ s, f, tiny float64 }

func (om *outMag) add(t tapMag, x float64) {
	ax := math.Abs(x)
	om.s += t.a * ax
	om.f += t.e * ax
	om.tiny += (1 + t.m + t.a + t.e) * ax
}

// outputBound is steps 6 to 8 for one output: bias b, taps om, residual r,
// exact pre-activation z and output y.
func outputBound(p Params, b biasMag, om outMag, r, z, y float64) float64 {
	n := p.Taps() + p.K + 5
	ar := math.Abs(r)
	ez := gamma(n)*(b.mag+b.err+om.s+om.f+ar) + b.err + om.f
	bound := SafetyFactor*actErr(p.Activation, z, ez) + FloorRel*Unit*math.Abs(y) +
		Tiny*float64(n)*(1+b.mag+ar+om.tiny)
	if math.IsNaN(bound) {
		return math.Inf(1)
	}
	return bound
}

// actErr is step 7: the bound E_f on the activation's output error for an
// exact pre-activation z off by at most ez.
func actErr(act string, z, ez float64) float64 {
	lip := actLip(act, z-SafetyFactor*ez, z+SafetyFactor*ez)
	return lip*ez + actEvalRel(act)*(math.Abs(activate(act, z))+lip*ez)
}

// siluPeak is where silu's derivative peaks (1.0998 at +siluPeak, −0.0998
// at −siluPeak).
const siluPeak = 2.39936

// actLip is the largest |f'| of the activation on [lo, hi] (step 7).
func actLip(act string, lo, hi float64) float64 {
	switch act {
	case ActReLU:
		if hi > 0 {
			return 1
		}
		return 0
	case ActReLU6:
		if hi > 0 && lo < 6 {
			return 1
		}
		return 0
	case ActHardswish:
		switch {
		case hi <= -3:
			return 0
		case lo >= 3:
			return 1
		}
		a, b := math.Max(lo, -3), math.Min(hi, 3)
		l := math.Max(math.Abs(2*a+3), math.Abs(2*b+3)) / 6
		if hi > 3 {
			l = math.Max(l, 1)
		}
		return l
	case ActSiLU:
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
			return 1.0999
		}
		d := func(z float64) float64 { s := sigmoid(z); return math.Abs(s * (1 + z*(1-s))) }
		l := math.Max(d(lo), d(hi))
		if lo <= siluPeak && siluPeak <= hi {
			l = math.Max(l, 1.0999)
		}
		if lo <= -siluPeak && -siluPeak <= hi {
			l = math.Max(l, 0.0999)
		}
		return l
	case ActSigmoid:
		s := sigmoid(math.Min(math.Max(0, lo), hi))
		return s * (1 - s)
	}
	return 1
}

// actEvalRel is r_f of step 7: the relative error of evaluating the
// activation in float32.
func actEvalRel(act string) float64 {
	switch act {
	case ActHardswish:
		return gamma(4)
	case ActSigmoid:
		return sigmoidEvalRel
	case ActSiLU:
		return (1+sigmoidEvalRel)*(1+Unit) - 1
	}
	return 0
}

// Compare checks a float32 result against the reference: it returns nil if
// and only if got has the reference's length and every element is finite
// and within its bound, |got−Y| ≤ Bound. Otherwise the error counts the bad
// elements and shows the first and the worst as (n, c, y, x) with got, want
// and bound.
func Compare(got []float32, r *Result) error {
	if r == nil {
		return fmt.Errorf("no reference result")
	}
	if len(got) != len(r.Y) {
		return fmt.Errorf("got %d outputs, want %d (N=%d, C=%d, Ho=%d, Wo=%d)", len(got), len(r.Y), r.N, r.channels(), r.Ho, r.Wo)
	}
	bad, first, worst := 0, -1, -1
	worstRatio := 0.0
	for i, g := range got {
		ratio := r.ratio(i, g)
		if !(ratio <= 1) { // NaN counts as bad
			bad++
			if first < 0 {
				first = i
			}
			if worst < 0 || ratio > worstRatio || math.IsNaN(ratio) && !math.IsNaN(worstRatio) {
				worst, worstRatio = i, ratio
			}
		}
	}
	if bad == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d of %d outputs outside the error bound; first at %s", bad, len(got), r.describe(first, got[first]))
	if worst != first {
		msg += fmt.Sprintf("; worst at %s", r.describe(worst, got[worst]))
	}
	return fmt.Errorf("%s", msg)
}

// ratio is |got−Y|/Bound for element i: +Inf for a non-finite got or a
// nonzero error against a zero bound, NaN when Y or Bound is NaN.
func (r *Result) ratio(i int, g float32) float64 {
	if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
		return math.Inf(1)
	}
	d := math.Abs(float64(g) - r.Y[i])
	b := math.NaN()
	if i < len(r.Bound) {
		b = r.Bound[i]
	}
	switch {
	case math.IsNaN(d) || math.IsNaN(b):
		return math.NaN()
	case d == 0:
		return 0
	case b == 0:
		return math.Inf(1)
	}
	return d / b
}

func (r *Result) channels() int {
	if r.C > 0 {
		return r.C
	}
	if per := r.N * r.Ho * r.Wo; per > 0 {
		return len(r.Y) / per
	}
	return 0
}

// Index splits a flat output index into (n, c, y, x) for the [N,C,Ho,Wo]
// layout.
func (r *Result) Index(i int) (n, c, y, x int) {
	wo, ho, ch := max(r.Wo, 1), max(r.Ho, 1), max(r.channels(), 1)
	x, i = i%wo, i/wo
	y, i = i%ho, i/ho
	c, n = i%ch, i/ch
	return n, c, y, x
}

func (r *Result) describe(i int, g float32) string {
	n, c, y, x := r.Index(i)
	b := math.NaN()
	if i < len(r.Bound) {
		b = r.Bound[i]
	}
	return fmt.Sprintf("(n=%d, c=%d, y=%d, x=%d): got %s, want %.10g, |err| %.3g, bound %.3g",
		n, c, y, x, strconv.FormatFloat(float64(g), 'g', -1, 32), r.Y[i], math.Abs(float64(g)-r.Y[i]), b)
}

// Report summarizes how a float32 result compares with the reference.
type Report struct {
	MaxAbsErr  float64 // max |got−Y|
	MaxRelErr  float64 // max |got−Y| / max |Y|
	WorstRatio float64 // max |got−Y| / Bound; ≤ 1 when Compare passes
	Bad        int     // elements outside their bound, non-finite, or missing/extra
}

// Measure computes a Report of got against the reference. A non-finite got
// element makes the errors +Inf; a length mismatch counts the missing or
// extra elements as bad and compares the common prefix.
func Measure(got []float32, r *Result) Report {
	var rep Report
	if r == nil {
		rep.Bad = len(got)
		return rep
	}
	n := min(len(got), len(r.Y))
	rep.Bad = max(len(got), len(r.Y)) - n
	maxY := maxAbs(r.Y)
	for i := range n {
		g := float64(got[i])
		d := math.Abs(g - r.Y[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			d = math.Inf(1)
		}
		ratio := r.ratio(i, got[i])
		if !(ratio <= 1) {
			rep.Bad++
		}
		if d > rep.MaxAbsErr || math.IsNaN(d) {
			rep.MaxAbsErr = d
		}
		if ratio > rep.WorstRatio || math.IsNaN(ratio) {
			rep.WorstRatio = ratio
		}
	}
	switch {
	case rep.MaxAbsErr == 0:
		rep.MaxRelErr = 0
	case maxY == 0:
		rep.MaxRelErr = math.Inf(1)
	default:
		rep.MaxRelErr = rep.MaxAbsErr / maxY
	}
	return rep
}

// maxAbs is the largest |v[i]|, 0 for an empty v.
func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
