package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// layerData is one layer's parameters and a batch of inputs, generated once
// with a fixed seed and written to raw little-endian float32 files that
// every peer reads: the same values for everyone.
type layerData struct {
	Dir                            string
	Weight, Bias, FCWeight, FCBias []float32
	X                              []float32 // [maxN, Cin, H, W]; a run with N samples uses the first N
}

// genData draws the layer's tensors: kernels and bias U(±1/√fan_in) as
// PyTorch initialises Conv2d; an FC scaled so that the logits spread over a
// few units (the routing differs between samples and channels, rather than
// a near-uniform softmax); inputs U(±1) plus a per-sample, per-channel
// offset U(±1) so that the pooled vectors differ between samples.
func genData(l *suiteLayer, index int, seed uint64, maxN int, dir string) (*layerData, error) {
	p := l.P
	r := rand.New(rand.NewPCG(seed, uint64(index)))
	u := func(n int, b float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((2*r.Float64() - 1) * b)
		}
		return v
	}
	fan := p.Cin / p.G * p.KH * p.KW
	b := 1 / math.Sqrt(float64(fan))
	d := &layerData{Dir: dir}
	d.Weight = u(p.K*p.Cout*fan, b)
	d.Bias = u(p.Cout, b)
	d.FCWeight = u(p.K*p.Cout*p.Cin, 3/math.Sqrt(float64(p.Cin)))
	d.FCBias = u(p.K*p.Cout, 0.5)
	hw := p.H * p.W
	d.X = make([]float32, maxN*p.Cin*hw)
	for nc := 0; nc < maxN*p.Cin; nc++ {
		off := 2*r.Float64() - 1
		for i := nc * hw; i < (nc+1)*hw; i++ {
			d.X[i] = float32(off + 2*r.Float64() - 1)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		v    []float32
	}{{"weight", d.Weight}, {"bias", d.Bias}, {"fc_weight", d.FCWeight}, {"fc_bias", d.FCBias}, {"x", d.X}} {
		if err := writeF32(filepath.Join(dir, f.name+".f32"), f.v); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func writeF32(path string, v []float32) error {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return os.WriteFile(path, b, 0o644)
}

func readF32(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("%s: %d bytes, want %d floats", path, len(b), n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// relErr is max|a−ref| / max|ref|: the error relative to the output's scale
// (an element-wise relative error is meaningless where ref crosses zero).
func relErr(a, ref []float32) float64 {
	if len(a) != len(ref) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		if math.IsNaN(float64(a[i])) {
			return math.NaN()
		}
		d = max(d, math.Abs(float64(a[i]-ref[i])))
		m = max(m, math.Abs(float64(ref[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}
