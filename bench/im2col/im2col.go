// Package im2col is the pure-Go peer of the benchmark: a whole DyConv
// forward (mean pool, coefficient FC, softmax over the experts, kernel
// fusion, convolution) written the way a Go user without dygen would write
// it: im2col followed by one gonum Sgemm per group and per sample.
package im2col

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Params describes a DyConv2d layer with symmetric padding, as in PyTorch.
type Params struct {
	Cin, Cout, KH, KW, SH, SW, PH, PW, DH, DW, G, K, H, W int
}

// Out returns the output size [Ho, Wo], PyTorch's formula.
func (p Params) Out() (ho, wo int) {
	return (p.H+2*p.PH-p.DH*(p.KH-1)-1)/p.SH + 1, (p.W+2*p.PW-p.DW*(p.KW-1)-1)/p.SW + 1
}

// FLOPs is 2·n·Cout·(Cin/G)·KH·KW·Ho·Wo, the convolution's multiply-adds
// counted twice; the benchmark divides it by the whole forward's time.
func (p Params) FLOPs(n int) float64 {
	ho, wo := p.Out()
	return 2 * float64(n) * float64(p.Cout) * float64(p.Cin/p.G) * float64(p.KH*p.KW) * float64(ho*wo)
}

// Layer is a DyConv layer with its parameters in PyTorch's layouts:
// weight [K, Cout, Cin/G, KH, KW], bias [Cout], fcWeight [K·Cout, Cin],
// fcBias [K·Cout].
type Layer struct {
	p                          Params
	weight, bias, fcW, fcB     []float32
	pointwise                  bool // 1x1, stride 1, no padding: the input is its own im2col
	scratch                    sync.Pool
	impl                       gonum.Implementation
	fanIn, hw, howo, cinG, coG int
}

type scratch struct {
	pooled, logits, pi, fused, col []float32
}

// New checks the lengths and builds the layer (it keeps the slices).
func New(p Params, weight, bias, fcW, fcB []float32) (*Layer, error) {
	if p.G <= 0 || p.Cin%p.G != 0 || p.Cout%p.G != 0 {
		return nil, fmt.Errorf("im2col: groups %d do not divide Cin %d and Cout %d", p.G, p.Cin, p.Cout)
	}
	l := &Layer{p: p, weight: weight, bias: bias, fcW: fcW, fcB: fcB}
	l.cinG, l.coG = p.Cin/p.G, p.Cout/p.G
	l.fanIn = l.cinG * p.KH * p.KW
	l.hw = p.H * p.W
	ho, wo := p.Out()
	l.howo = ho * wo
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"weight", len(weight), p.K * p.Cout * l.fanIn},
		{"bias", len(bias), p.Cout},
		{"fcWeight", len(fcW), p.K * p.Cout * p.Cin},
		{"fcBias", len(fcB), p.K * p.Cout},
	} {
		if c.got != c.want {
			return nil, fmt.Errorf("im2col: %s has %d elements, want %d", c.name, c.got, c.want)
		}
	}
	l.pointwise = p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 && p.PH == 0 && p.PW == 0
	l.scratch.New = func() any {
		s := &scratch{
			pooled: make([]float32, p.Cin),
			logits: make([]float32, p.K*p.Cout),
			pi:     make([]float32, p.K*p.Cout),
			fused:  make([]float32, p.Cout*l.fanIn),
		}
		if !l.pointwise {
			s.col = make([]float32, p.Cin*p.KH*p.KW*l.howo)
		}
		return s
	}
	return l, nil
}

// Forward computes n samples: src NCHW [n, Cin, H, W] → dst [n, Cout, Ho, Wo].
// With workers > 1 and n > 1 the samples are spread over that many
// goroutines; gonum's Sgemm also spreads one product over GOMAXPROCS.
func (l *Layer) Forward(dst, src []float32, n, workers int) error {
	in, out := l.p.Cin*l.hw, l.p.Cout*l.howo
	if len(src) != n*in || len(dst) != n*out {
		return fmt.Errorf("im2col: src %d / dst %d elements, want %d / %d", len(src), len(dst), n*in, n*out)
	}
	if workers <= 1 || n <= 1 {
		s := l.scratch.Get().(*scratch)
		for i := 0; i < n; i++ {
			l.sample(s, dst[i*out:(i+1)*out], src[i*in:(i+1)*in])
		}
		l.scratch.Put(s)
		return nil
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := l.scratch.Get().(*scratch)
			for i := w; i < n; i += workers {
				l.sample(s, dst[i*out:(i+1)*out], src[i*in:(i+1)*in])
			}
			l.scratch.Put(s)
		}(w)
	}
	wg.Wait()
	return nil
}

func (l *Layer) sample(s *scratch, y, x []float32) {
	p := &l.p
	// Mean pool (float64 sums: 50176 pixels would lose digits in float32).
	for c := range s.pooled {
		var sum float64
		for _, v := range x[c*l.hw : (c+1)*l.hw] {
			sum += float64(v)
		}
		s.pooled[c] = float32(sum / float64(l.hw))
	}
	// Coefficient FC: logits = fcW · pooled + fcB.
	copy(s.logits, l.fcB)
	l.impl.Sgemv(blas.NoTrans, p.K*p.Cout, p.Cin, 1, l.fcW, p.Cin, s.pooled, 1, 1, s.logits, 1)
	// Softmax over the K experts of each output channel.
	for o := 0; o < p.Cout; o++ {
		m := float32(math.Inf(-1))
		for k := 0; k < p.K; k++ {
			m = max(m, s.logits[k*p.Cout+o])
		}
		var sum float32
		for k := 0; k < p.K; k++ {
			e := float32(math.Exp(float64(s.logits[k*p.Cout+o] - m)))
			s.pi[k*p.Cout+o] = e
			sum += e
		}
		for k := 0; k < p.K; k++ {
			s.pi[k*p.Cout+o] /= sum
		}
	}
	// Fusion: fused[o] = Σ_k pi[k, o]·weight[k, o].
	f := l.fanIn
	for o := 0; o < p.Cout; o++ {
		row := s.fused[o*f : (o+1)*f]
		a := s.pi[o]
		for j, w := range l.weight[o*f : (o+1)*f] {
			row[j] = a * w
		}
		for k := 1; k < p.K; k++ {
			r := (k*p.Cout + o) * f
			l.impl.Saxpy(f, s.pi[k*p.Cout+o], l.weight[r:r+f], 1, row, 1)
		}
	}
	// Bias, then one Sgemm per group: y_g += fused_g [Cout/G, F] × col_g [F, HoWo].
	for o := 0; o < p.Cout; o++ {
		b := l.bias[o]
		yo := y[o*l.howo : (o+1)*l.howo]
		for i := range yo {
			yo[i] = b
		}
	}
	col := x
	if !l.pointwise {
		l.im2col(s.col, x)
		col = s.col
	}
	for g := 0; g < p.G; g++ {
		l.impl.Sgemm(blas.NoTrans, blas.NoTrans, l.coG, l.howo, f, 1,
			s.fused[g*l.coG*f:], f,
			col[g*f*l.howo:], l.howo,
			1, y[g*l.coG*l.howo:], l.howo)
	}
}

// im2col writes col [Cin·KH·KW, Ho·Wo] (row c·KH·KW + kh·KW + kw), zeros
// where the window reads padding.
func (l *Layer) im2col(col, x []float32) {
	p := &l.p
	ho, wo := p.Out()
	r := 0
	for c := 0; c < p.Cin; c++ {
		xc := x[c*l.hw : (c+1)*l.hw]
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				dst := col[r*l.howo : (r+1)*l.howo]
				r++
				for oy := 0; oy < ho; oy++ {
					iy := oy*p.SH - p.PH + kh*p.DH
					d := dst[oy*wo : (oy+1)*wo]
					if iy < 0 || iy >= p.H {
						clear(d)
						continue
					}
					xr := xc[iy*p.W : (iy+1)*p.W]
					ix := kw*p.DW - p.PW
					for ox := range d {
						if ix >= 0 && ix < p.W {
							d[ox] = xr[ix]
						} else {
							d[ox] = 0
						}
						ix += p.SW
					}
				}
			}
		}
	}
}
