package verify

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// plainForward is a float32 layer built on Reference, with the argument
// checks a generated Forward has.
func plainForward(p Params, w Weights) ForwardFunc {
	return func(dst, src []float32, n, h, wd int) error {
		if err := p.CheckInput(h, wd); err != nil {
			return err
		}
		r, err := Reference(p, w, src, n, h, wd)
		if err != nil {
			return err
		}
		if len(dst) != len(r.Y) {
			return errorString("len(dst) is wrong")
		}
		for i, v := range r.Y {
			dst[i] = float32(v)
		}
		return nil
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestCheckForwardCatchesBadWrites(t *testing.T) {
	p := Params{InC: 2, OutC: 3, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 2, Bias: true, Mode: Zeros}
	rng := rand.New(rand.NewPCG(1, 1))
	w := RandomWeights(p, rng)
	x := RandomInput(2, p.InC*5*6, rng)
	good := plainForward(p, w)
	if _, err := CheckForward(p, w, good, x, 2, 5, 6); err != nil {
		t.Fatalf("a correct forward fails: %v", err)
	}
	for name, bad := range map[string]ForwardFunc{
		"skips the last element": func(dst, src []float32, n, h, wd int) error {
			err := good(dst, src, n, h, wd)
			dst[len(dst)-1] = float32(math.NaN())
			return err
		},
		"writes past dst": func(dst, src []float32, n, h, wd int) error {
			err := good(dst, src, n, h, wd)
			// as assembly could: Data's capacity stops Go code
			unsafe.Slice(&dst[0], len(dst)+1)[len(dst)] = 0
			return err
		},
		"writes into src": func(dst, src []float32, n, h, wd int) error {
			err := good(dst, src, n, h, wd)
			src[0]++
			return err
		},
		"off by a bit": func(dst, src []float32, n, h, wd int) error {
			err := good(dst, src, n, h, wd)
			dst[3] += 0.01
			return err
		},
	} {
		if _, err := CheckForward(p, w, bad, x, 2, 5, 6); err == nil {
			t.Errorf("a forward that %s passes", name)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	p := Params{InC: 2, OutC: 3, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1, K: 1, Mode: Zeros}
	lax := func(dst, src []float32, n, h, w int) error { return nil }
	if fails := CheckRejects(p, lax, 4, 4); len(fails) != 8 {
		t.Errorf("a forward that accepts everything fails %d checks, want 8: %v", len(fails), fails)
	}
	scribbler := func(dst, src []float32, n, h, w int) error {
		dst[0] = 1
		return errorString("len(dst) len(src) batch size input size")
	}
	fails := CheckRejects(p, scribbler, 4, 4)
	if len(fails) == 0 || !strings.Contains(fails[len(fails)-1].Error(), "wrote into dst") {
		t.Errorf("a forward that writes before failing is not caught: %v", fails)
	}
	lenient := func(Weights) error { return nil }
	if fails := CheckWeightRejects(p, RandomWeights(p, rand.New(rand.NewPCG(2, 2))), lenient); len(fails) != len(p.Tensors()) {
		t.Errorf("a constructor that accepts everything fails %d checks, want %d", len(fails), len(p.Tensors()))
	}
}
