package dyrt

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// Padding modes, with PyTorch's Conv2d meaning.
const (
	ModeZeros = iota
	ModeReflect
	ModeReplicate
	ModeCircular
)

// MaxDim bounds run-time spatial sizes so that no size arithmetic overflows.
const MaxDim = 1 << 24

// OutSize is PyTorch's convolution output size along one dimension,
// floor((n + pads − dil·(k−1) − 1) / stride) + 1, where pads is the sum of
// both sides' padding. It is not positive when the padded input is smaller
// than the dilated kernel.
func OutSize(n, pads, k, stride, dil int) int {
	a := n + pads - dil*(k-1) - 1
	if a < 0 {
		return -((-a + stride - 1) / stride) + 1
	}
	return a/stride + 1
}

// CheckSize reports whether an h×w input suits a layer with a kh×kw kernel,
// dilation dh×dw, padding pt, pb, pl, pr (top, bottom, left, right) and
// padding mode mode: positive, at most MaxDim, larger than reflect padding,
// at least circular padding, and not smaller than the dilated kernel once
// padded.
func CheckSize(h, w, kh, kw, dh, dw, pt, pb, pl, pr, mode int) error {
	if h <= 0 || w <= 0 {
		return fmt.Errorf("input size %dx%d, want positive sizes", h, w)
	}
	if h > MaxDim || w > MaxDim {
		return fmt.Errorf("input size %dx%d exceeds %d", h, w, MaxDim)
	}
	switch mode {
	case ModeReflect:
		if pt >= h || pb >= h || pl >= w || pr >= w {
			return fmt.Errorf("input size %dx%d: reflect padding (top %d, bottom %d, left %d, right %d) must be smaller than the input", h, w, pt, pb, pl, pr)
		}
	case ModeCircular:
		if pt > h || pb > h || pl > w || pr > w {
			return fmt.Errorf("input size %dx%d: circular padding (top %d, bottom %d, left %d, right %d) must not exceed the input", h, w, pt, pb, pl, pr)
		}
	}
	if h+pt+pb < dh*(kh-1)+1 || w+pl+pr < dw*(kw-1)+1 {
		return fmt.Errorf("input size %dx%d: padded input %dx%d is smaller than the dilated kernel %dx%d",
			h, w, h+pt+pb, w+pl+pr, dh*(kh-1)+1, dw*(kw-1)+1)
	}
	return nil
}

// ErrTooLarge reports an input or output batch whose element count
// overflows int (half of it: room for the arithmetic on it).
var ErrTooLarge = errors.New("batch too large: its element count overflows int")

// CheckLens checks the lengths of src and dst for n samples of NCHW tensors
// [n, cin, h, w] and [n, cout, ho, wo] and returns the per-sample sizes.
// n, h, w must be non-negative and h, w at most MaxDim.
func CheckLens(dstLen, srcLen, n, cin, h, w, cout, ho, wo int) (inSize, outSize int, err error) {
	// In int64 first: on 32-bit platforms one sample may already overflow int.
	in64, out64 := int64(cin)*int64(h)*int64(w), int64(cout)*int64(ho)*int64(wo)
	const limit = math.MaxInt >> 1
	if in64 > limit || out64 > limit || n > 0 && (in64 > limit/int64(n) || out64 > limit/int64(n)) {
		return 0, 0, fmt.Errorf("%w: src n·Cin·H·W = %d·%d·%d·%d, dst n·Cout·Ho·Wo = %d·%d·%d·%d",
			ErrTooLarge, n, cin, h, w, n, cout, ho, wo)
	}
	inSize, outSize = int(in64), int(out64)
	if srcLen != n*inSize {
		return 0, 0, fmt.Errorf("len(src) = %d, want n·Cin·H·W = %d·%d·%d·%d = %d", srcLen, n, cin, h, w, n*inSize)
	}
	if dstLen != n*outSize {
		return 0, 0, fmt.Errorf("len(dst) = %d, want n·Cout·Ho·Wo = %d·%d·%d·%d = %d", dstLen, n, cout, ho, wo, n*outSize)
	}
	return inSize, outSize, nil
}

// PadIndex maps a padded coordinate i (the input occupies 0..n-1) to the
// input index it reads under the padding mode, or -1 for a zero. Reflect
// needs the padding below n, circular at most n.
func PadIndex(mode, i, n int) int {
	if i >= 0 && i < n {
		return i
	}
	switch mode {
	case ModeReflect:
		if i < 0 {
			return -i
		}
		return 2*(n-1) - i
	case ModeReplicate:
		if i < 0 {
			return 0
		}
		return n - 1
	case ModeCircular:
		return ((i % n) + n) % n
	}
	return -1
}

// InteriorRange returns [lo, hi) of the outputs o in [0, out) for which the
// input coordinate o·stride − pad + t·dil stays inside [0, n) for every tap
// t < k: the outputs a kernel can compute without padding checks. lo ≤ hi;
// an empty interior has lo == hi.
func InteriorRange(n, out, k, stride, pad, dil int) (lo, hi int) {
	lo = (pad + stride - 1) / stride
	last := n - 1 + pad - (k-1)*dil // o·stride ≤ last
	if last < 0 {
		hi = 0
	} else {
		hi = last/stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, out)
	return lo, max(lo, hi)
}

// Sample returns x's i'th run of size floats, x[i·size:(i+1)·size], or nil
// when x is nil (a layer's optional per-sample inputs: the residual, the
// routing).
func Sample(x []float32, i, size int) []float32 {
	if x == nil {
		return nil
	}
	return x[i*size : (i+1)*size]
}

// Overlap reports whether a and b share memory: some element of one is an
// element of the other.
func Overlap(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b))*4 && b0 < a0+uintptr(len(a))*4
}

// Same reports whether a and b are the same memory: the same first element
// and the same length.
func Same(a, b []float32) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Samples returns x's runs lo … hi−1 of size floats, x[lo·size:hi·size],
// or nil when x is nil.
func Samples(x []float32, lo, hi, size int) []float32 {
	if x == nil {
		return nil
	}
	return x[lo*size : hi*size]
}

// RoundChunk returns the pixel blocks per kernel call for a budget of c
// blocks out of n, rounded so that a call's pixels fill whole main blocks
// of the AVX-512 micro-kernels, q blocks each: down to a multiple of q when
// c ≥ q, else up to q (a call of fewer pixels ends in tail blocks whose few
// accumulator chains leave the FMAs waiting); never more than n. A budget
// below one block (c < 1: the tests' smallest chunks) gives 1, and q ≤ 1
// leaves c as is.
func RoundChunk(c, n, q int) int {
	switch {
	case c < 1:
		c = 1
	case q <= 1:
	case c >= q:
		c -= c % q
	default:
		c = q
	}
	return max(1, min(c, n))
}
