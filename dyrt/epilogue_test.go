package dyrt

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	for i := 0; i < 200000; i++ {
		x := (rng.Float64()*2 - 1) * 700 // normal results
		if i%2 == 0 {
			x /= 100 // the activations' range
		}
		want, got := math.Exp(x), Exp(x)
		if want == 0 {
			require.Zero(t, got, "Exp(%v)", x)
			continue
		}
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	assert.Less(t, worst, 1e-14, "largest relative error")
	assert.Equal(t, 1.0, Exp(0))
	assert.Zero(t, Exp(-746))
	assert.True(t, math.IsInf(Exp(710), 1))
	assert.True(t, math.IsNaN(Exp(math.NaN())))
	assert.Zero(t, Exp(math.Inf(-1)))
}

// TestActivate checks each activation against its float64 definition, to
// a few float32 roundings.
func TestActivate(t *testing.T) {
	sig := func(y float64) float64 { return 1 / (1 + math.Exp(-y)) }
	defs := map[int]func(float64) float64{
		ActNone:      func(y float64) float64 { return y },
		ActReLU:      func(y float64) float64 { return math.Max(y, 0) },
		ActReLU6:     func(y float64) float64 { return math.Min(math.Max(y, 0), 6) },
		ActHardswish: func(y float64) float64 { return y * math.Min(math.Max(y+3, 0), 6) / 6 },
		ActSiLU:      func(y float64) float64 { return y * sig(y) },
		ActSigmoid:   sig,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for act, def := range defs {
		for i := 0; i < 20000; i++ {
			y := float32((rng.Float64()*2 - 1) * 12)
			if i < 6 {
				y = []float32{0, -3, 3, 6, -100, 100}[i]
			}
			want, got := def(float64(y)), float64(Activate(act, y))
			assert.LessOrEqual(t, math.Abs(got-want), 3*0x1p-24*math.Abs(want)+1e-45, "act %d at %v: got %v, want %v", act, y, got, want)
		}
		assert.True(t, math.IsNaN(float64(Activate(act, float32(math.NaN())))), "act %d keeps NaN", act)
	}
}

func TestEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for act := ActNone; act <= ActSigmoid; act++ {
		y := make([]float32, 37)
		res := make([]float32, len(y))
		for i := range y {
			y[i] = float32(rng.NormFloat64() * 4)
			res[i] = float32(rng.NormFloat64())
		}
		want := make([]float32, len(y))
		for i := range y {
			want[i] = Activate(act, y[i]+res[i])
		}
		// Into another buffer, in place, and with the residual in dst.
		dst := make([]float32, len(y))
		EpilogueCopy(act, dst, y, res)
		assert.Equal(t, want, dst, "EpilogueCopy, act %d", act)
		in := append([]float32(nil), y...)
		Epilogue(act, in, res)
		assert.Equal(t, want, in, "Epilogue, act %d", act)
		alias := append([]float32(nil), res...)
		EpilogueCopy(act, alias, y, alias)
		assert.Equal(t, want, alias, "EpilogueCopy with res = dst, act %d", act)
		plain := append([]float32(nil), y...)
		Epilogue(act, plain, nil)
		for i := range y {
			assert.Equal(t, Activate(act, y[i]), plain[i])
		}
	}
}

func TestOverlap(t *testing.T) {
	buf := make([]float32, 10)
	assert.True(t, Overlap(buf[0:5], buf[4:8]))
	assert.False(t, Overlap(buf[0:4], buf[4:8]))
	assert.True(t, Overlap(buf[2:3], buf))
	assert.False(t, Overlap(buf[:0], buf))
	assert.False(t, Overlap(buf, make([]float32, 10)))
	assert.True(t, Same(buf[1:4], buf[1:4]))
	assert.False(t, Same(buf[1:4], buf[1:5]))
	assert.False(t, Same(buf[1:4], buf[2:5]))
	assert.Nil(t, Sample(nil, 3, 4))
	assert.Equal(t, buf[4:6], Sample(buf, 2, 2))
}

func TestRoundChunk(t *testing.T) {
	for _, c := range []struct{ c, n, q, want int }{
		{5, 100, 4, 4}, {8, 100, 4, 8}, {11, 100, 4, 8}, {3, 100, 4, 4}, {3, 2, 4, 2},
		{0, 100, 4, 1}, {7, 100, 1, 7}, {7, 5, 0, 5}, {-3, 10, 1, 1}, {12, 10, 4, 10},
	} {
		assert.Equal(t, c.want, RoundChunk(c.c, c.n, c.q), "RoundChunk(%d, %d, %d)", c.c, c.n, c.q)
	}
}
