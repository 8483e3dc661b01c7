package dyrt

import "math"

// Activations, as the generated code names them (the spec's activation
// key): applied to each output after the BN and the residual.
const (
	ActNone = iota
	ActReLU
	ActReLU6
	ActHardswish
	ActSiLU
	ActSigmoid
)

// Exp is e^x for the activations, computed in float64 with a polynomial
// accurate to about 1e-15 relative over x's range, and returned in
// float64. It is several times faster than math.Exp, whose last bits the
// activations do not need: their results are rounded to float32. Exp is 0
// below −745.2 and +Inf above 709.8, as math.Exp; NaN stays NaN.
func Exp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 7.09782712893383973096e+02:
		return math.Inf(1)
	case x < -7.45133219101941108420e+02:
		return 0
	}
	// x = n·ln2 + r, |r| ≤ ln2/2; e^r by its Taylor series to r^12
	// (|r|^13/13! < 2e-16 for |r| ≤ 0.347), in Horner's form.
	const (
		log2e = 1.4426950408889634
		ln2hi = 6.93147180369123816490e-01
		ln2lo = 1.90821492927058770002e-10
	)
	n := math.RoundToEven(x * log2e)
	r := (x - n*ln2hi) - n*ln2lo
	p := 1.0 / 479001600
	for _, c := range [...]float64{1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
		1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1} {
		p = p*r + c
	}
	// 2^n in two factors, so that n down to −1075 stays exact.
	k := int(n)
	h := k / 2
	return p * math.Float64frombits(uint64(1023+h)<<52) * math.Float64frombits(uint64(1023+k-h)<<52)
}

// Activate applies activation act (ActNone, …) to one value.
func Activate(act int, y float32) float32 {
	switch act {
	case ActReLU:
		return max(y, 0)
	case ActReLU6:
		return min(max(y, 0), 6)
	case ActHardswish:
		return y * min(max(y+3, 0), 6) / 6
	case ActSiLU:
		return float32(float64(y) / (1 + Exp(-float64(y))))
	case ActSigmoid:
		return float32(1 / (1 + Exp(-float64(y))))
	}
	return y
}

// Epilogue finishes a run of outputs in place: y[i] += res[i] when res is
// not nil (it has y's length; it may be y's own memory), then y[i] =
// act(y[i]). A NaN stays NaN through every activation.
func Epilogue(act int, y, res []float32) {
	if res != nil {
		res = res[:len(y)]
		for i := range y {
			y[i] += res[i]
		}
	}
	switch act {
	case ActNone:
	case ActReLU:
		for i, v := range y {
			if v < 0 {
				y[i] = 0
			}
		}
	case ActReLU6:
		for i, v := range y {
			if v < 0 {
				y[i] = 0
			} else if v > 6 {
				y[i] = 6
			}
		}
	default:
		for i, v := range y {
			y[i] = Activate(act, v)
		}
	}
}

// EpilogueCopy writes act(src[i] + res[i]) (act(src[i]) when res is nil)
// into dst[i] for every i < len(dst); src and res are at least as long as
// dst. res may be dst's own memory; src may not overlap dst unless it is
// dst.
func EpilogueCopy(act int, dst, src, res []float32) {
	src = src[:len(dst)]
	if res != nil {
		res = res[:len(dst)]
		for i := range dst {
			dst[i] = Activate(act, src[i]+res[i])
		}
		return
	}
	for i := range dst {
		dst[i] = Activate(act, src[i])
	}
}
