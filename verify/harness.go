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

// CallFunc calls a generated layer with its extra inputs: NCHW src
// [n,Cin,h,w] in, NCHW dst [n,Cout,Ho,Wo] out, e.Residual [n,Cout,Ho,Wo]
// (nil without one; it may be dst itself) and e.Routing [n, RoutingLen]
// (nil unless the routing comes from outside).
type CallFunc func(dst, src []float32, e Extra, n, h, w int) error

// callOf adapts a ForwardFunc, which takes no extra inputs.
func callOf(fwd ForwardFunc) CallFunc {
	return func(dst, src []float32, _ Extra, n, h, w int) error { return fwd(dst, src, n, h, w) }
}

// CheckForward runs fwd on x the way the generated tests do: dst pre-filled
// with NaN so that an unwritten element is caught, guard bands around dst
// and src so that a write outside either is caught, src compared with x
// afterwards so that a write into the input is caught, and the result
// compared with Reference under the tolerance model. It returns the error
// measurements and the first failure. A layer with a residual or external
// routing needs CheckCall.
func CheckForward(p Params, w Weights, fwd ForwardFunc, x []float32, n, h, wd int) (Report, error) {
	return CheckCall(p, w, callOf(fwd), x, Extra{}, n, h, wd)
}

// CheckCall is CheckForward for a call with extra inputs e (RandomExtra
// makes them): the residual and the routing are passed in guarded copies
// that must stay unmodified, and when the layer has a residual, a second
// call with the residual in dst itself (res aliasing dst, which the API
// allows) must give the first call's output bit for bit.
func CheckCall(p Params, w Weights, call CallFunc, x []float32, e Extra, n, h, wd int) (Report, error) {
	ref, err := ReferenceExtra(p, w, x, n, h, wd, e)
	if err != nil {
		return Report{}, fmt.Errorf("reference: %w", err)
	}
	rep, _, err := checkAgainst(ref, call, x, e, n, h, wd)
	return rep, err
}

// guardedOrNil is GuardedCopy of v, or nil (and a nil slice) for an empty
// v, so that a layer without the input gets nil.
func guardedOrNil(v []float32) (*Guarded, []float32) {
	if len(v) == 0 {
		return nil, nil
	}
	g := GuardedCopy(v)
	return g, g.Data()
}

// checkAgainst runs call on x and e with the guards CheckCall describes
// and compares the output with ref; it also returns the output.
func checkAgainst(ref *Result, call CallFunc, x []float32, e Extra, n, h, wd int) (Report, []float32, error) {
	dst := NewGuarded(len(ref.Y), float32(math.NaN()))
	src := GuardedCopy(x)
	res, resData := guardedOrNil(e.Residual)
	rt, rtData := guardedOrNil(e.Routing)
	if err := call(dst.Data(), src.Data(), Extra{Residual: resData, Routing: rtData}, n, h, wd); err != nil {
		return Report{}, nil, fmt.Errorf("call(n=%d, h=%d, w=%d): %w", n, h, wd, err)
	}
	var errs []error
	for _, b := range []struct {
		name string
		g    *Guarded
		want []float32
	}{{"dst", dst, nil}, {"src", src, x}, {"res", res, e.Residual}, {"routing", rt, e.Routing}} {
		if b.g == nil {
			continue
		}
		if err := b.g.Check(); err != nil {
			errs = append(errs, fmt.Errorf("%s guard band: %w", b.name, err))
		}
		if b.want == nil {
			continue
		}
		for i, v := range b.g.Data() {
			if math.Float32bits(v) != math.Float32bits(b.want[i]) {
				errs = append(errs, fmt.Errorf("the call wrote into %s at element %d", b.name, i))
				break
			}
		}
	}
	rep := Measure(dst.Data(), ref)
	if err := Compare(dst.Data(), ref); err != nil {
		errs = append(errs, err)
	}
	if len(e.Residual) > 0 && len(errs) == 0 {
		// The residual in dst itself: the same bits.
		inPlace := GuardedCopy(e.Residual)
		src2 := GuardedCopy(x)
		rt2, rt2Data := guardedOrNil(e.Routing)
		if err := call(inPlace.Data(), src2.Data(), Extra{Residual: inPlace.Data(), Routing: rt2Data}, n, h, wd); err != nil {
			errs = append(errs, fmt.Errorf("call(n=%d, h=%d, w=%d) with the residual in dst: %w", n, h, wd, err))
		} else {
			for _, g := range []*Guarded{inPlace, src2, rt2} {
				if g == nil {
					continue
				}
				if err := g.Check(); err != nil {
					errs = append(errs, fmt.Errorf("with the residual in dst: guard band: %w", err))
				}
			}
			for i, v := range inPlace.Data() {
				if math.Float32bits(v) != math.Float32bits(dst.Data()[i]) {
					n, c, y, xx := ref.Index(i)
					errs = append(errs, fmt.Errorf("with the residual in dst, output (n=%d, c=%d, y=%d, x=%d) is %v, %v with a separate residual: the results must be the same bits",
						n, c, y, xx, v, dst.Data()[i]))
					break
				}
			}
		}
	}
	return rep, dst.Data(), errors.Join(errs...)
}

// CheckGoldenForward runs fwd on a golden case's input (with the guards of
// CheckForward) and compares the result with PyTorch's float64 output under
// the tolerance model. A case with a residual or external routing needs
// CheckGoldenCall.
func CheckGoldenForward(g *Golden, fwd ForwardFunc) (Report, error) {
	if e := g.Extra(); len(e.Residual) > 0 || len(e.Routing) > 0 {
		return Report{}, fmt.Errorf("%s: the case has extra inputs (residual or routing): check it with CheckGoldenCall", g.Path)
	}
	return CheckGoldenCall(g, callOf(fwd))
}

// CheckGoldenCall runs call on a golden case's input and extra inputs
// (Golden.Extra), with the guards of CheckCall, and compares the result
// with PyTorch's float64 output under the tolerance model.
func CheckGoldenCall(g *Golden, call CallFunc) (Report, error) {
	e := g.Extra()
	ref, err := ReferenceExtra(g.Params, g.Weights, g.Input, g.N, g.H, g.W, e)
	if err != nil {
		return Report{}, fmt.Errorf("%s: reference: %w", g.Path, err)
	}
	rep, got, err := checkAgainst(ref, call, g.Input, e, g.N, g.H, g.W)
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
	return checkRejects(p, callOf(fwd), h, w, false)
}

// CheckRejectsCall is CheckRejects for a call with extra inputs: the calls
// of CheckRejects (with the extra inputs the layer needs, sized for the
// call where its batch and size are valid, so that the error must name the
// size problem) and, when the layer has them, a residual one element short
// and long (the error must name len(res)), a routing one element short and
// long (len(routing)), and a residual that aliases src (the API allows res
// to be dst, not src: the error must say it overlaps or aliases). Every
// failed call must leave dst untouched.
func CheckRejectsCall(p Params, call CallFunc, h, w int) []error {
	return checkRejects(p, call, h, w, true)
}

func checkRejects(p Params, call CallFunc, h, w int, extra bool) []error {
	p = p.WithDefaults()
	ho, wo := p.OutputSize(h, w)
	outLen, nr := p.OutC*ho*wo, p.RoutingLen()
	src := make([]float32, 2*p.InC*h*w)
	dst := make([]float32, 2*outLen+1)
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	one, two := dst[:outLen], dst[:2*outLen]
	// The extra inputs for n samples; res is a separate buffer (not dst).
	ext := func(n int) Extra {
		var e Extra
		if !extra {
			return e
		}
		if p.Residual {
			e.Residual = make([]float32, n*outLen)
		}
		if p.ExternalRouting {
			e.Routing = make([]float32, n*nr)
			for i := range e.Routing {
				e.Routing[i] = 0.5
			}
		}
		return e
	}
	type rejectCase struct {
		name     string
		dst, src []float32
		e        Extra
		n, h, w  int
		want     []string // the error must name one of these
	}
	in := p.InC * h * w
	cases := []rejectCase{
		{"short dst", dst[:outLen-1], src[:in], ext(1), 1, h, w, []string{"len(dst)"}},
		{"long dst", dst[:outLen+1], src[:in], ext(1), 1, h, w, []string{"len(dst)"}},
		{"short src", one, src[:in-1], ext(1), 1, h, w, []string{"len(src)"}},
		{"negative n", one, src[:in], ext(1), -1, h, w, []string{"batch size"}},
		{"n too large for src", two, src[:in], ext(2), 2, h, w, []string{"len(src)"}},
		{"zero height", one, src[:in], ext(1), 1, 0, w, []string{"input size"}},
		{"zero width", one, src[:in], ext(1), 1, h, 0, []string{"input size"}},
		{"huge size", one, src[:in], ext(1), 1, 1 << 30, 1 << 30, []string{"input size"}},
	}
	if extra && p.Residual {
		e := ext(1)
		res := make([]float32, outLen+1)
		e.Residual = res[:outLen-1]
		cases = append(cases, rejectCase{"short residual", one, src[:in], e, 1, h, w, []string{"len(res)"}})
		e = ext(1)
		e.Residual = res
		cases = append(cases, rejectCase{"long residual", one, src[:in], e, 1, h, w, []string{"len(res)"}})
		if outLen <= in {
			// res aliasing src: a layer whose output is no larger than its
			// input, so that the residual fits inside src.
			e = ext(1)
			e.Residual = src[:outLen]
			cases = append(cases, rejectCase{"residual aliasing src", one, src[:in], e, 1, h, w, []string{"overlap", "alias"}})
		} else {
			// The input inside the residual's buffer instead.
			buf := make([]float32, outLen)
			e = ext(1)
			e.Residual = buf
			cases = append(cases, rejectCase{"residual aliasing src", one, buf[:in], e, 1, h, w, []string{"overlap", "alias"}})
		}
	}
	if extra && p.ExternalRouting {
		rt := make([]float32, nr+1)
		for i := range rt {
			rt[i] = 0.5
		}
		e := ext(1)
		e.Routing = rt[:nr-1]
		cases = append(cases, rejectCase{"short routing", one, src[:in], e, 1, h, w, []string{"len(routing)"}})
		e = ext(1)
		e.Routing = rt
		cases = append(cases, rejectCase{"long routing", one, src[:in], e, 1, h, w, []string{"len(routing)"}})
	}
	var fails []error
	for _, c := range cases {
		err := call(c.dst, c.src, c.e, c.n, c.h, c.w)
		named := false
		for _, want := range c.want {
			named = named || (err != nil && strings.Contains(err.Error(), want))
		}
		if !named {
			fails = append(fails, fmt.Errorf("%s: error %v, want one mentioning %s", c.name, err, quoteAlternatives(c.want)))
		}
		if !AllNaN(dst) {
			return append(fails, fmt.Errorf("%s: the call wrote into dst although it failed", c.name))
		}
	}
	return fails
}

// quoteAlternatives formats ["a", "b"] as `"a" or "b"`.
func quoteAlternatives(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = fmt.Sprintf("%q", w)
	}
	return strings.Join(q, " or ")
}

// CheckWeightRejects calls newLayer with each tensor of p.Tensors() one
// element short in turn and returns a failure for each call that does not
// return an error naming the tensor's field.
func CheckWeightRejects(p Params, w Weights, newLayer func(Weights) error) []error {
	var fails []error
	for _, t := range p.Tensors() {
		bad := w
		f := bad.Field(t.Field)
		if len(*f) == 0 {
			fails = append(fails, fmt.Errorf("%s: the weights given have no %s to shorten", t.Field, t.Field))
			continue
		}
		*f = (*f)[:len(*f)-1]
		if err := newLayer(bad); err == nil || !strings.Contains(err.Error(), t.Field) {
			fails = append(fails, fmt.Errorf("a short %s: error %v, want one naming %s", t.Field, err, t.Field))
		}
	}
	return fails
}
