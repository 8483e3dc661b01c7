// Package model describes the example's DyConv layers as a PyTorch model
// holds them: each layer's name in ../layers.yaml, the prefix of its
// parameters in the model's state dict, and its hyperparameters. It also
// writes demo weights in PyTorch's names and layouts, standing in for the
// Python export of a trained model:
//
//	sd = {k: v.contiguous() for k, v in model.state_dict().items()}
//	safetensors.torch.save_file(sd, "weights.safetensors")
package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dygen/dygen/dyrt"
	"github.com/dygen/dygen/verify"
)

// Layer is one DyConv layer of the model.
type Layer struct {
	Name   string        // the layer's name in ../layers.yaml and its Go type in package dyconv
	Prefix string        // the prefix of its tensors in the state dict, e.g. "layer1.0.conv1."
	Params verify.Params // hyperparameters, as the spec resolves them
	// InputH and InputW are the fixed input size, or 0 for a run-time size.
	InputH, InputW int
}

// Layers are the model's layers in the order they run. A test checks that
// they agree with ../layers.yaml.
var Layers = []Layer{
	{
		Name: "Conv3x3", Prefix: "layer1.0.conv1.",
		Params: verify.Params{InC: 16, OutC: 16, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1,
			PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 1, K: 4, Bias: true, Mode: verify.Zeros},
		InputH: 32, InputW: 32,
	},
	{
		Name: "Project1x1", Prefix: "layer2.0.downsample.0.",
		Params: verify.Params{InC: 16, OutC: 32, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1,
			Groups: 1, K: 4, Bias: false, Mode: verify.Zeros},
	},
	{
		Name: "Depthwise3x3", Prefix: "layer2.0.conv2.",
		Params: verify.Params{InC: 32, OutC: 32, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1,
			PadT: 1, PadB: 1, PadL: 1, PadR: 1, Groups: 32, K: 4, Bias: true, Mode: verify.Reflect},
	},
}

// Tensor names of a DyConv layer's parameters in PyTorch's state dict,
// after the layer's prefix.
const (
	WeightName   = "weight"                    // [K, Cout, Cin/groups, KH, KW]
	BiasName     = "bias"                      // [Cout], absent without bias
	FCWeightName = "_coefficient_fn.fc.weight" // [K·Cout, Cin]
	FCBiasName   = "_coefficient_fn.fc.bias"   // [K·Cout]
)

// DemoTensors returns random parameters for every layer, named and laid out
// as PyTorch stores them, drawn as PyTorch initializes Conv2d and Linear
// (uniform in ±1/√fan_in) from a generator seeded with seed.
func DemoTensors(seed uint64) []dyrt.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	uniform := func(n, fanIn int) []float32 {
		b := 1 / math.Sqrt(float64(fanIn))
		out := make([]float32, n)
		for i := range out {
			out[i] = float32((2*rng.Float64() - 1) * b)
		}
		return out
	}
	var ts []dyrt.Tensor
	for _, l := range Layers {
		p := l.Params
		fanIn := p.Taps()
		ts = append(ts, dyrt.F32Tensor(l.Prefix+WeightName,
			[]int{p.K, p.OutC, p.InPerGroup(), p.KH, p.KW}, uniform(p.WeightLen(), fanIn)))
		if p.Bias {
			ts = append(ts, dyrt.F32Tensor(l.Prefix+BiasName, []int{p.OutC}, uniform(p.BiasLen(), fanIn)))
		}
		ts = append(ts,
			dyrt.F32Tensor(l.Prefix+FCWeightName, []int{p.K * p.OutC, p.InC}, uniform(p.FCWeightLen(), p.InC)),
			dyrt.F32Tensor(l.Prefix+FCBiasName, []int{p.K * p.OutC}, uniform(p.FCBiasLen(), p.InC)))
	}
	return ts
}

// WriteDemo writes DemoTensors(seed) to a safetensors file at path.
func WriteDemo(path string, seed uint64) error {
	meta := map[string]string{
		"format": "pt",
		"source": fmt.Sprintf("dygen examples: random demo weights, seed %d", seed),
	}
	if err := dyrt.Write(path, meta, DemoTensors(seed)); err != nil {
		return fmt.Errorf("writing demo weights: %w", err)
	}
	return nil
}
