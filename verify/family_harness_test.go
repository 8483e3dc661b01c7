package verify

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overlaps reports whether two slices share memory.
func overlaps(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return a0 < b0+uintptr(4*len(b)) && b0 < a0+uintptr(4*len(a))
}

// emuCall is a float32 layer built on family32 with the argument checks a
// generated layer has: it writes nothing unless every check passes.
func emuCall(p Params, w Weights, m emu) CallFunc {
	p = p.WithDefaults()
	return func(dst, src []float32, e Extra, n, h, wd int) error {
		if n < 0 {
			return errorString("batch size is negative")
		}
		if err := p.CheckInput(h, wd); err != nil {
			return errorString("input size: " + err.Error())
		}
		if h > 1<<15 || wd > 1<<15 {
			return errorString("input size too large")
		}
		ho, wo := p.OutputSize(h, wd)
		switch {
		case len(src) != n*p.InC*h*wd:
			return errorString("len(src) is wrong")
		case len(dst) != n*p.OutC*ho*wo:
			return errorString("len(dst) is wrong")
		case p.Residual && len(e.Residual) != len(dst):
			return errorString("len(res) is wrong")
		case p.ExternalRouting && len(e.Routing) != n*p.RoutingLen():
			return errorString("len(routing) is wrong")
		case overlaps(e.Residual, src):
			return errorString("res overlaps src")
		}
		copy(dst, family32(p, w, src, e, n, h, wd, m))
		return nil
	}
}

// TestCheckCall checks CheckCall on layers with a residual and external
// routing: a correct layer passes, and layers that write into an input,
// ignore an extra input, or give other bits with the residual in dst fail.
func TestCheckCall(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	p := Params{InC: 4, OutC: 6, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1,
		Groups: 2, K: 3, Bias: true, Mode: Reflect, Routing: CondConv, BatchNorm: true, Activation: ActSiLU,
		Residual: true, ExternalRouting: true}.WithDefaults()
	require.NoError(t, p.Check())
	w := RandomWeights(p, rng)
	const n, h, wd = 2, 5, 6
	x := RandomInput(n, p.InC*h*wd, rng)
	e := RandomExtra(p, n, h, wd, rng)
	good := emuCall(p, w, emu{})
	rep, err := CheckCall(p, w, good, x, e, n, h, wd)
	require.NoError(t, err)
	assert.Less(t, rep.WorstRatio, 1.0)

	for name, bad := range map[string]CallFunc{
		"writes into res": func(dst, src []float32, e Extra, n, h, wd int) error {
			err := good(dst, src, e, n, h, wd)
			if &e.Residual[0] != &dst[0] {
				e.Residual[1]++
			}
			return err
		},
		"writes into routing": func(dst, src []float32, e Extra, n, h, wd int) error {
			err := good(dst, src, e, n, h, wd)
			e.Routing[0] = 0
			return err
		},
		"ignores the residual": func(dst, src []float32, e Extra, n, h, wd int) error {
			e.Residual = make([]float32, len(dst))
			return good(dst, src, e, n, h, wd)
		},
		"routes itself": func(dst, src []float32, e Extra, n, h, wd int) error {
			q := p
			q.ExternalRouting = false
			copy(dst, family32(q, w, src, Extra{Residual: e.Residual}, n, h, wd, emu{}))
			return nil
		},
		"other bits in place": func(dst, src []float32, e Extra, n, h, wd int) error {
			inPlace := &e.Residual[0] == &dst[0]
			err := good(dst, src, e, n, h, wd)
			if inPlace {
				dst[3] = math.Nextafter32(dst[3], 0)
			}
			return err
		},
		"writes past res": func(dst, src []float32, e Extra, n, h, wd int) error {
			err := good(dst, src, e, n, h, wd)
			if &e.Residual[0] != &dst[0] {
				unsafe.Slice(&e.Residual[0], len(e.Residual)+1)[len(e.Residual)] = 0
			}
			return err
		},
	} {
		_, err := CheckCall(p, w, bad, x, e, n, h, wd)
		assert.Error(t, err, "a layer that %s passes", name)
	}

	// A missing extra input is an error of the reference, not a pass.
	_, err = CheckCall(p, w, good, x, Extra{Routing: e.Routing}, n, h, wd)
	assert.ErrorContains(t, err, "residual has 0 elements")
	_, err = CheckForward(p, w, func(dst, src []float32, n, h, wd int) error { return nil }, x, n, h, wd)
	assert.ErrorContains(t, err, "reference")
}

// TestCheckRejectsCall checks that CheckRejectsCall runs the extra cases of
// a layer with a residual and external routing, and that a layer with the
// generated checks passes it.
func TestCheckRejectsCall(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for _, p := range []Params{
		{InC: 3, OutC: 5, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 2, Mode: Zeros,
			Routing: ODConv, Residual: true, ExternalRouting: true},
		{InC: 8, OutC: 2, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1, Groups: 1, K: 4, Mode: Zeros, Routing: DyNet, Residual: true},
		{InC: 2, OutC: 2, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 1, Mode: Zeros, Routing: Static},
	} {
		p = p.WithDefaults()
		require.NoError(t, p.Check())
		w := RandomWeights(p, rng)
		want := 8
		if p.Residual {
			want += 3
		}
		if p.ExternalRouting {
			want += 2
		}
		lax := func(dst, src []float32, e Extra, n, h, w int) error { return nil }
		assert.Len(t, CheckRejectsCall(p, lax, 4, 4), want, "%v: a layer that accepts everything", p)
		assert.Empty(t, CheckRejectsCall(p, emuCall(p, w, emu{}), 4, 4), "%v: a layer with the checks", p)
		assert.Empty(t, CheckRejects(p, func(dst, src []float32, n, h, wd int) error {
			return emuCall(p, w, emu{})(dst, src, RandomExtra(p, n, h, wd, rng), n, h, wd)
		}, 4, 4))
		scribbler := func(dst, src []float32, e Extra, n, h, w int) error {
			if len(dst) > 0 {
				dst[0] = 1
			}
			return errorString("len(dst) len(src) batch size input size len(res) len(routing) overlap")
		}
		fails := CheckRejectsCall(p, scribbler, 4, 4)
		require.NotEmpty(t, fails)
		assert.Contains(t, fails[len(fails)-1].Error(), "wrote into dst")
		// A layer that accepts a residual aliasing src is caught.
		if p.Residual {
			noAlias := func(dst, src []float32, e Extra, n, h, wd int) error {
				if overlaps(e.Residual, src) {
					return nil
				}
				return emuCall(p, w, emu{})(dst, src, e, n, h, wd)
			}
			fails := CheckRejectsCall(p, noAlias, 4, 4)
			require.Len(t, fails, 1)
			assert.Contains(t, fails[0].Error(), "residual aliasing src")
		}
	}
}

// TestCheckWeightRejectsFamily shortens every tensor of every routing.
func TestCheckWeightRejectsFamily(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	for range 40 {
		p, _, _, _ := randomFamilyCase(rng)
		w := RandomWeights(p, rng)
		strict := func(w Weights) error { return p.CheckWeights(w) }
		assert.Empty(t, CheckWeightRejects(p, w, strict), "%v", p)
		lenient := func(Weights) error { return nil }
		assert.Len(t, CheckWeightRejects(p, w, lenient), len(p.Tensors()), "%v", p)
		// An error that names another field does not count.
		vague := func(w Weights) error {
			if err := p.CheckWeights(w); err != nil {
				return errorString("a tensor has the wrong length")
			}
			return nil
		}
		assert.Len(t, CheckWeightRejects(p, w, vague), len(p.Tensors()), "%v", p)
	}
}

// TestCheckGoldenCall runs the float32 emulation of every family case
// through CheckGoldenCall, and checks that a corrupted result and a case
// with a residual through CheckGoldenForward fail.
func TestCheckGoldenCall(t *testing.T) {
	files := familyFilesOrSkip(t)
	for _, path := range files {
		g, err := LoadGolden(path)
		require.NoError(t, err)
		name := filepath.Base(path)
		rep, err := CheckGoldenCall(g, emuCall(g.Params, g.Weights, emu{fma: true}))
		require.NoError(t, err, name)
		assert.Less(t, rep.WorstRatio, 1.0, name)
		bad := func(dst, src []float32, e Extra, n, h, wd int) error {
			err := emuCall(g.Params, g.Weights, emu{})(dst, src, e, n, h, wd)
			dst[len(dst)/2] += 0.01 * float32(math.Max(1, maxAbs(g.Want)))
			return err
		}
		_, err = CheckGoldenCall(g, bad)
		assert.Error(t, err, name)
		fwd := func(dst, src []float32, n, h, wd int) error {
			return emuCall(g.Params, g.Weights, emu{})(dst, src, g.Extra(), n, h, wd)
		}
		_, err = CheckGoldenForward(g, fwd)
		if g.Params.Residual {
			assert.ErrorContains(t, err, "CheckGoldenCall", name)
		} else {
			assert.NoError(t, err, name)
		}
	}
}

// TestGoldenMatchesFamily checks that a golden case matches the Params of
// its spec however they were built: with the defaults filled in or not.
func TestGoldenMatchesFamily(t *testing.T) {
	files := familyFilesOrSkip(t)
	for _, path := range files {
		g, err := LoadGolden(path)
		require.NoError(t, err)
		q := g.Params
		if q.Routing == DyNet && q.Gate == Softmax {
			q.Routing, q.Gate = "", ""
		}
		if q.Activation == ActNone {
			q.Activation = ""
		}
		assert.True(t, g.Matches(q, 0, 0), path)
		assert.True(t, g.Matches(g.Params, g.H, g.W), path)
		assert.False(t, g.Matches(g.Params, g.H+1, g.W), path)
		q = g.Params
		q.Residual = !q.Residual
		assert.False(t, g.Matches(q, 0, 0), path)
		if strings.Contains(path, "case000") {
			assert.Equal(t, ODConv, g.Params.Routing)
		}
	}
}
