package im2col

import (
	"math"
	"math/rand/v2"
	"testing"
)

// direct is a straightforward DyConv forward in float64, the reference the
// im2col peer is tested against.
func direct(p Params, weight, bias, fcW, fcB, x []float32, n int) []float64 {
	ho, wo := p.Out()
	cinG, coG := p.Cin/p.G, p.Cout/p.G
	f := cinG * p.KH * p.KW
	y := make([]float64, n*p.Cout*ho*wo)
	for s := 0; s < n; s++ {
		xs := x[s*p.Cin*p.H*p.W:]
		pooled := make([]float64, p.Cin)
		for c := range pooled {
			for i := 0; i < p.H*p.W; i++ {
				pooled[c] += float64(xs[c*p.H*p.W+i])
			}
			pooled[c] /= float64(p.H * p.W)
		}
		for o := 0; o < p.Cout; o++ {
			lg := make([]float64, p.K)
			m := math.Inf(-1)
			for k := range lg {
				j := k*p.Cout + o
				lg[k] = float64(fcB[j])
				for c := 0; c < p.Cin; c++ {
					lg[k] += float64(fcW[j*p.Cin+c]) * pooled[c]
				}
				m = max(m, lg[k])
			}
			var sum float64
			for k := range lg {
				lg[k] = math.Exp(lg[k] - m)
				sum += lg[k]
			}
			wf := make([]float64, f)
			for k := range lg {
				for j := range wf {
					wf[j] += lg[k] / sum * float64(weight[(k*p.Cout+o)*f+j])
				}
			}
			g := o / coG
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					acc := float64(bias[o])
					for ci := 0; ci < cinG; ci++ {
						c := g*cinG + ci
						for kh := 0; kh < p.KH; kh++ {
							iy := oy*p.SH - p.PH + kh*p.DH
							for kw := 0; kw < p.KW; kw++ {
								ix := ox*p.SW - p.PW + kw*p.DW
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								acc += wf[(ci*p.KH+kh)*p.KW+kw] * float64(xs[(c*p.H+iy)*p.W+ix])
							}
						}
					}
					y[((s*p.Cout+o)*ho+oy)*wo+ox] = acc
				}
			}
		}
	}
	return y
}

func TestForwardMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range []Params{
		{Cin: 3, Cout: 8, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1, G: 1, K: 4, H: 15, W: 13},
		{Cin: 6, Cout: 4, KH: 1, KW: 1, SH: 1, SW: 1, G: 2, DH: 1, DW: 1, K: 3, H: 5, W: 7},
		{Cin: 5, Cout: 5, KH: 3, KW: 5, SH: 1, SW: 2, PH: 1, PW: 2, DH: 2, DW: 1, G: 5, K: 4, H: 9, W: 11},
		{Cin: 4, Cout: 6, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, G: 2, K: 2, H: 6, W: 6},
	} {
		f := p.Cin / p.G * p.KH * p.KW
		u := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(2*r.Float64() - 1)
			}
			return v
		}
		weight, bias, fcW, fcB := u(p.K*p.Cout*f), u(p.Cout), u(p.K*p.Cout*p.Cin), u(p.K*p.Cout)
		const n = 3
		x := u(n * p.Cin * p.H * p.W)
		l, err := New(p, weight, bias, fcW, fcB)
		if err != nil {
			t.Fatal(err)
		}
		want := direct(p, weight, bias, fcW, fcB, x, n)
		for _, workers := range []int{1, 2} {
			ho, wo := p.Out()
			y := make([]float32, n*p.Cout*ho*wo)
			if err := l.Forward(y, x, n, workers); err != nil {
				t.Fatal(err)
			}
			for i := range y {
				if d := math.Abs(float64(y[i]) - want[i]); d > 1e-4*(1+math.Abs(want[i])) {
					t.Fatalf("%+v workers=%d: y[%d] = %g, want %g", p, workers, i, y[i], want[i])
				}
			}
		}
	}
}
