package verify

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// ForwardFunc is a generated layer's Forward method: NCHW src [n,Cin,h,w]
// in, NCHW dst [n,Cout,Ho,Wo] out.
type ForwardFunc func(dst, src []float32, n, h, w int) error

// CheckForward runs fwd on x the way the generated tests do: dst pre-filled
// with NaN so that an unwritten element is caught, guard bands around dst
// and src so that a write outside either is caught, src compared with x
// afterwards so that a write into the input is caught, and the result
// compared with Reference under the tolerance model. It returns the error
// measurements and the first failure.
func CheckForward(p Params, w Weights, fwd ForwardFunc, x []float32, n, h, wd int) (Report, error) {
	ref, err := Reference(p, w, x, n, h, wd)
	if err != nil {
		return Report{}, fmt.Errorf("reference: %w", err)
	}
	rep, _, err := checkAgainst(ref, fwd, x, n, h, wd)
	return rep, err
}

// checkAgainst runs fwd on x with the guards CheckForward describes and
// compares the output with ref; it also returns the output.
func checkAgainst(ref *Result, fwd ForwardFunc, x []float32, n, h, wd int) (Report, []float32, error) {
	dst := NewGuarded(len(ref.Y), float32(math.NaN()))
	src := GuardedCopy(x)
	if err := fwd(dst.Data(), src.Data(), n, h, wd); err != nil {
		return Report{}, nil, fmt.Errorf("Forward(n=%d, h=%d, w=%d): %w", n, h, wd, err)
	}
	var errs []error
	if err := dst.Check(); err != nil {
		errs = append(errs, fmt.Errorf("dst guard band: %w", err))
	}
	if err := src.Check(); err != nil {
		errs = append(errs, fmt.Errorf("src guard band: %w", err))
	}
	for i, v := range src.Data() {
		if math.Float32bits(v) != math.Float32bits(x[i]) {
			errs = append(errs, fmt.Errorf("Forward wrote into src at element %d", i))
			break
		}
	}
	rep := Measure(dst.Data(), ref)
	if err := Compare(dst.Data(), ref); err != nil {
		errs = append(errs, err)
	}
	return rep, dst.Data(), errors.Join(errs...)
}

// CheckGoldenForward runs fwd on a golden case's input (with the guards of
// CheckForward) and compares the result with PyTorch's float64 output under
// the tolerance model.
func CheckGoldenForward(g *Golden, fwd ForwardFunc) (Report, error) {
	ref, err := Reference(g.Params, g.Weights, g.Input, g.N, g.H, g.W)
	if err != nil {
		return Report{}, fmt.Errorf("%s: reference: %w", g.Path, err)
	}
	rep, got, err := checkAgainst(ref, fwd, g.Input, g.N, g.H, g.W)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", g.Path, err)
	}
	return rep, checkGoldenRef(g, ref, got)
}

// GoldenEnv lists the golden files named by $DYGEN_GOLDEN (paths joined
// with the OS's list separator; a directory stands for its *.safetensors).
func GoldenEnv() ([]string, error) {
	var out []string
	for _, p := range filepath.SplitList(os.Getenv("DYGEN_GOLDEN")) {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("DYGEN_GOLDEN: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		files, err := GoldenFiles(p)
		if err != nil {
			return nil, fmt.Errorf("DYGEN_GOLDEN: %w", err)
		}
		out = append(out, files...)
	}
	return out, nil
}

// Matches reports whether a golden case was made by a layer with
// parameters p (compared with their defaults filled in) and, when
// fixedH > 0, input size fixedH×fixedW.
func (g *Golden) Matches(p Params, fixedH, fixedW int) bool {
	return g.Params.WithDefaults() == p.WithDefaults() && (fixedH == 0 || (g.H == fixedH && g.W == fixedW))
}

// Line formats one check's result as the line `dygen verify` reads from the
// generated tests' output:
//
//	DYGEN layer=X check=random maxabs=1.2e-06 maxrel=3e-07 ratio=0.01 ok=true
func Line(layer, check string, r Report, err error) string {
	return fmt.Sprintf("DYGEN layer=%s check=%s maxabs=%.3g maxrel=%.3g ratio=%.3g ok=%v",
		layer, strings.ReplaceAll(check, " ", "_"), r.MaxAbsErr, r.MaxRelErr, r.WorstRatio, err == nil)
}

// AllNaN reports whether every element of s is NaN: the state of an output
// buffer that a failed call must leave untouched.
func AllNaN(s []float32) bool {
	for _, v := range s {
		if v == v {
			return false
		}
	}
	return true
}

// CheckRejects calls fwd with wrong arguments for an h×w input of layer p
// (dst or src one element short or long, a negative or too large batch,
// zero, mismatched and absurd input sizes) and returns a failure for each
// call that does not return an error naming the problem, or that writes
// into dst although it failed.
func CheckRejects(p Params, fwd ForwardFunc, h, w int) []error {
	ho, wo := p.OutputSize(h, w)
	src := make([]float32, p.InC*h*w)
	dst := make([]float32, p.OutC*ho*wo+1)
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	good := dst[:len(dst)-1]
	var fails []error
	for _, c := range []struct {
		name     string
		dst, src []float32
		n, h, w  int
		want     string
	}{
		{"short dst", dst[:len(dst)-2], src, 1, h, w, "len(dst)"},
		{"long dst", dst, src, 1, h, w, "len(dst)"},
		{"short src", good, src[:len(src)-1], 1, h, w, "len(src)"},
		{"negative n", good, src, -1, h, w, "batch size"},
		{"n too large for src", good, src, 2, h, w, "len(src)"},
		{"zero height", good, src, 1, 0, w, "input size"},
		{"zero width", good, src, 1, h, 0, "input size"},
		{"huge size", good, src, 1, 1 << 30, 1 << 30, "input size"},
	} {
		err := fwd(c.dst, c.src, c.n, c.h, c.w)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			fails = append(fails, fmt.Errorf("%s: Forward error %v, want one mentioning %q", c.name, err, c.want))
		}
		if !AllNaN(dst) {
			return append(fails, fmt.Errorf("%s: Forward wrote into dst although it failed", c.name))
		}
	}
	return fails
}

// CheckWeightRejects calls newLayer with each of w's slices one element off
// in turn and returns a failure for each call that does not return an
// error naming the slice.
func CheckWeightRejects(w Weights, newLayer func(Weights) error) []error {
	var fails []error
	for _, field := range []string{"Weight", "Bias", "FCWeight", "FCBias"} {
		bad := w
		switch field {
		case "Weight":
			bad.Weight = bad.Weight[1:]
		case "Bias":
			bad.Bias = append(bad.Bias[:len(bad.Bias):len(bad.Bias)], 1)
		case "FCWeight":
			bad.FCWeight = bad.FCWeight[1:]
		case "FCBias":
			bad.FCBias = bad.FCBias[1:]
		}
		if err := newLayer(bad); err == nil || !strings.Contains(err.Error(), field) {
			fails = append(fails, fmt.Errorf("a bad %s: error %v, want one naming %s", field, err, field))
		}
	}
	return fails
}
