package verify

import (
	"fmt"
	"math"
)

// GuardLen is the number of guard elements on each side of a Guarded
// buffer.
const GuardLen = 64

// GuardBits is the sentinel bit pattern stored in the guard bands: a quiet
// NaN with a distinctive payload, which no arithmetic produces and which
// test fills (NaN from math.NaN(), zeros, random values) never equal.
const GuardBits uint32 = 0x7fe5_d1e5

// Guarded is a float32 buffer surrounded by guard bands, in the manner of
// gonum's assembly tests: a kernel under test gets Data, and Check reports
// any write outside it.
type Guarded struct {
	buf []float32
	n   int
}

// NewGuarded returns a buffer of n usable elements (n < 0 counts as 0), each
// set to fill, with GuardLen sentinel elements on each side. Tests pass a
// NaN fill to catch outputs that are never written.
func NewGuarded(n int, fill float32) *Guarded {
	n = max(n, 0)
	g := &Guarded{buf: make([]float32, n+2*GuardLen), n: n}
	guard := math.Float32frombits(GuardBits)
	for i := range g.buf {
		g.buf[i] = guard
	}
	for i := range n {
		g.buf[GuardLen+i] = fill
	}
	return g
}

// GuardedCopy returns a Guarded buffer holding a copy of src.
func GuardedCopy(src []float32) *Guarded {
	g := NewGuarded(len(src), 0)
	copy(g.Data(), src)
	return g
}

// Data returns the usable elements: exactly n of them, with capacity n, so
// that an append cannot reach the guard band either.
func (g *Guarded) Data() []float32 {
	return g.buf[GuardLen : GuardLen+g.n : GuardLen+g.n]
}

// Check returns nil if both guard bands are intact, or an error naming the
// changed guard elements: how far before the start or past the end the
// writes reached and the first changed index and value.
func (g *Guarded) Check() error {
	var front, back []int // offsets of changed elements: before the start (1 = just before), past the end (0 = just after)
	for i := range GuardLen {
		if math.Float32bits(g.buf[GuardLen-1-i]) != GuardBits {
			front = append(front, i+1)
		}
		if math.Float32bits(g.buf[GuardLen+g.n+i]) != GuardBits {
			back = append(back, i)
		}
	}
	var msgs []string
	if len(front) > 0 {
		far := front[len(front)-1]
		v := g.buf[GuardLen-front[0]]
		msgs = append(msgs, fmt.Sprintf("wrote %d elements before the start (%d of the %d guard elements changed; first changed: index %d, now %v = %#08x)",
			far, len(front), GuardLen, -front[0], v, math.Float32bits(v)))
	}
	if len(back) > 0 {
		far := back[len(back)-1] + 1
		v := g.buf[GuardLen+g.n+back[0]]
		msgs = append(msgs, fmt.Sprintf("wrote %d elements past the end (%d of the %d guard elements changed; first changed: index %d, now %v = %#08x)",
			far, len(back), GuardLen, g.n+back[0], v, math.Float32bits(v)))
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("guarded buffer of %d elements: %s", g.n, msgs[0])
	}
	return fmt.Errorf("guarded buffer of %d elements: %s; %s", g.n, msgs[0], msgs[1])
}
