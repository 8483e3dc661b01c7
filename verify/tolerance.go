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
// length n, evaluated in any order has |error| ≤ γ(n)·Σ|terms|. All the Σ|·|
// below are computed in float64 by Reference alongside Y.
//
//  1. Pooling. pooled_c = Σ_{H·W} x / (H·W): a sum of H·W terms then a
//     division (or a multiplication by a rounded 1/(H·W)), so
//     |δpooled_c| ≤ γ(H·W+2)·mean|x_c| =: ep_c.
//
//  2. Coefficient FC. logit_j = b_j + Σ_c F_jc·pooled_c, a dot product of
//     Cin terms plus the bias, on the computed pooled:
//     |δlogit_j| ≤ γ(Cin+2)·(|b_j| + Σ_c |F_jc|·(|pooled_c|+ep_c)) + Σ_c |F_jc|·ep_c =: E_j.
//
//  3. Softmax over the K experts of output channel o. Let Emax = max_k E_j
//     and R the range of the K logits. Subtracting the (computed) maximum
//     shifts all logits alike, which softmax ignores; rounding l−m perturbs
//     each logit by at most u·(R+2·Emax). So every logit is off by at most
//     D = Emax + u·(R+2·Emax), and as π_k(l+δ) = π_k·e^{δ_k} / Σ_i π_i·e^{δ_i},
//     |δπ_k| ≤ π_k·(e^{2D}−1) (the "|dπ| ≤ π·2·max|d logit|" rule, exactly).
//     Evaluating it in float32 adds the relative errors of an exp (ExpErr),
//     of the K-term sum of positive exps (γ(K−1)) and of the division (u, or
//     2u through a reciprocal): r_fp = (1+ExpErr)(1+u)² / ((1−ExpErr)(1−γ(K−1))) − 1.
//     In all, |π̂_k − π_k| ≤ rπ·π_k with rπ = e^{2D}·(1+r_fp) − 1.
//
//  4. Fusion. W'[t] = Σ_k π_k·W_k[t], K products and K−1 sums of the
//     computed π̂: |δW'[t]| ≤ γ(K)·Σ_k π̂_k|W_k[t]| + Σ_k |δπ_k|·|W_k[t]|
//     ≤ rW·A[t], where A[t] = Σ_k π_k·|W_k[t]| and rW = γ(K)·(1+rπ) + rπ.
//     When the logits are so large that rπ is no longer small (the float32
//     routing may then pick another expert), the cruder
//     |δW'[t]| ≤ (2+2γ(K+2))·M[t], M[t] = max_k|W_k[t]|, holds instead,
//     because Σ_k|δπ_k| ≤ 2 for two distributions.
//
//  5. Convolution. y = b + Σ_t W'[t]·x_t over the L = Cin/groups·KH·KW taps
//     (a padding tap reads an exact zero or an exact input value). Let
//     S = Σ_t A[t]·|x_t| and F = min(rW·S, (2+2γ(K+2))·Σ_t M[t]·|x_t|), the
//     fusion error carried to the output. Since |Ŵ'[t]| ≤ A[t] + |δW'[t]|,
//     |δy| ≤ γ(L+1)·(|b| + S + F) + F.
//     Reference uses γ(L+K+2) in place of γ(L+1), which also covers the
//     paper's training-time order Σ_k π_k·conv(x, W_k) + b (K convolutions
//     with error γ(L) each, then a K-term mix with γ(K+1)), whose bound is
//     smaller than that.
//
//  6. Safety and floors. The bound returned is
//     SafetyFactor·(step 5) + FloorRel·u·|y| + Tiny·(L+K+2)·(1 + |b| + Σ_t (1+M[t])·|x_t|).
//     SafetyFactor = 2 absorbs the float64 reference's own rounding (~1e-16
//     relative) and leaves room for implementations whose steps round once
//     or twice more than the derivation counts (say, scaling the pooled sum
//     after the FC, or storing intermediates). FloorRel·u·|y| is a floor
//     relative to the output magnitude for exp and division routines less
//     accurate than ExpErr and for a final rounding to float32 after wider
//     accumulation. The Tiny term covers underflow, including
//     flush-to-zero of subnormal values (an absolute error of at most 2^-126
//     per operation); it matters only for outputs that are themselves tiny.
//
// Assumptions: each output is computed from the products that define it
// (direct convolution, im2col + GEMM, any order or blocking); transform
// algorithms (Winograd, FFT) are not covered; nothing overflows; the
// inputs are the same float32 values the reference gets.
//
// Tightness: the bound is about 2·L²·u times the average term |W'[t]·x_t|.
// Dropping one average tap of one output, or reading a wrong tap, a wrong
// channel, a missing padding value or a stale output, changes the output by
// about one term, so it is caught for L up to roughly 2000 taps; bugs that
// touch more terms or more outputs (the usual kind) are caught far beyond.
const (
	// Unit is the float32 unit roundoff u = 2^-24.
	Unit = 0x1p-24
	// ExpErr is the relative error assumed for one exp evaluation in the
	// softmax: 8u, four float32 ulps.
	ExpErr = 8 * Unit
	// SafetyFactor multiplies the derived bound (step 6 above).
	SafetyFactor = 2.0
	// FloorRel scales the floor FloorRel·u·|y| added to every bound.
	FloorRel = 4.0
	// Tiny is the absolute error per operation allowed for underflow and
	// flush-to-zero.
	Tiny = 0x1p-126
)

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

// fcErr is step 2: mag = |b| + Σ|F|·(|pooled|+ep), prop = Σ|F|·ep.
func fcErr(mag, prop float64, cin int) float64 { return gamma(cin+2)*mag + prop }

// softmaxRelErr is step 3: the relative error rπ of every coefficient of a
// K-way softmax whose logits are each off by at most emax and span rng.
func softmaxRelErr(emax, rng float64, k int) float64 {
	d := emax + Unit*(rng+2*emax)
	rfp := (1+ExpErr)*(1+Unit)*(1+Unit)/((1-ExpErr)*(1-gamma(k-1))) - 1
	return math.Exp(2*d)*(1+rfp) - 1
}

// fusedRelErr is step 4: rW such that |δW'[t]| ≤ rW·Σ_k π_k|W_k[t]|.
func fusedRelErr(rpi float64, k int) float64 { return gamma(k)*(1+rpi) + rpi }

// outputBound is steps 5 and 6 for one output y with bias magnitude absB,
// S = Σ_t A[t]|x_t|, m = Σ_t M[t]|x_t|, xs = Σ_t |x_t| and fused-weight
// relative error rW.
func outputBound(p Params, absB, s, m, xs, y, rW float64) float64 {
	n := p.Taps() + p.K + 2
	f := 0.0 // fusion error carried to the output
	if s > 0 {
		f = math.Min(rW*s, (2+2*gamma(p.K+2))*m)
	}
	conv := gamma(n)*(absB+s+f) + f
	b := SafetyFactor*conv + FloorRel*Unit*math.Abs(y) + Tiny*float64(n)*(1+absB+xs+m)
	if math.IsNaN(b) {
		return math.Inf(1)
	}
	return b
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
