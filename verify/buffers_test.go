package verify

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGuarded(t *testing.T) {
	nan := float32(math.NaN())
	g := NewGuarded(10, nan)
	d := g.Data()
	if len(d) != 10 || cap(d) != 10 {
		t.Fatalf("Data: len %d cap %d, want 10 10", len(d), cap(d))
	}
	for i, v := range d {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("Data()[%d] = %v, want the NaN fill", i, v)
		}
		if math.Float32bits(v) == GuardBits {
			t.Fatal("the fill has the guard's bit pattern")
		}
	}
	for i := range d {
		d[i] = float32(i)
	}
	if err := g.Check(); err != nil {
		t.Fatalf("writes inside the buffer: %v", err)
	}
	if d = append(d, 1); &d[0] == &g.Data()[0] {
		t.Fatal("append to Data reused the guarded array")
	}
	if err := g.Check(); err != nil {
		t.Fatalf("append: %v", err)
	}

	// Writes past the end, through the underlying array.
	g.buf[GuardLen+10] = 1
	g.buf[GuardLen+12] = 0
	err := g.Check()
	if err == nil || !strings.Contains(err.Error(), "wrote 3 elements past the end") || !strings.Contains(err.Error(), "first changed: index 10") {
		t.Errorf("past the end: %v", err)
	}
	g = NewGuarded(4, 0)
	g.buf[GuardLen-2] = 5
	err = g.Check()
	if err == nil || !strings.Contains(err.Error(), "wrote 2 elements before the start") || !strings.Contains(err.Error(), "index -2") {
		t.Errorf("before the start: %v", err)
	}
	g.buf[len(g.buf)-1] = 0 // the far end of the back guard
	err = g.Check()
	if err == nil || !strings.Contains(err.Error(), "before the start") || !strings.Contains(err.Error(), "wrote 64 elements past the end") {
		t.Errorf("both sides: %v", err)
	}

	// A NaN with another payload is a change too.
	g = NewGuarded(1, 0)
	g.buf[0] = nan
	if err := g.Check(); err == nil {
		t.Error("a NaN written into the guard was not noticed")
	}

	// Empty and negative sizes.
	for _, n := range []int{0, -3} {
		g := NewGuarded(n, nan)
		if len(g.Data()) != 0 || g.Check() != nil {
			t.Errorf("NewGuarded(%d): len %d, check %v", n, len(g.Data()), g.Check())
		}
	}
}

func TestGuardedCopy(t *testing.T) {
	src := RandomInput(1, 37, rand.New(rand.NewPCG(1, 1)))
	g := GuardedCopy(src)
	d := g.Data()
	if len(d) != len(src) || cap(d) != len(src) {
		t.Fatalf("len %d cap %d", len(d), cap(d))
	}
	for i := range src {
		if d[i] != src[i] {
			t.Fatalf("element %d = %v, want %v", i, d[i], src[i])
		}
	}
	d[0] = 99
	if src[0] == 99 {
		t.Error("GuardedCopy aliases its source")
	}
	if err := g.Check(); err != nil {
		t.Error(err)
	}
}
