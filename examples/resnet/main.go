// Command resnet runs a batch through the DyConv layers of a small
// ResNet-style block, using the package that dygen generated from
// layers.yaml (./dyconv) and weights loaded from a safetensors file in
// PyTorch's names and layouts.
//
// Usage:
//
//	go run ./resnet [-weights FILE] [-n N] [-seed S] [-iters I]
//
// Without -weights it first writes demo weights (as ./resnet/cmd/export
// does) to a temporary file. It prints each layer's input and output shapes
// and time, and a checksum of the final output.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/dygen/dygen/examples/resnet/dyconv"
	"github.com/dygen/dygen/examples/resnet/model"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "resnet: %v\n", err)
		os.Exit(1)
	}
}

// layer is what every generated DyConv layer type provides.
type layer interface {
	OutputSize(h, w int) (ho, wo int)
	Forward(dst, src []float32, n, h, w int) error
}

// loaders load each layer of model.Layers by name from a weights file.
var loaders = map[string]func(path, prefix string) (layer, error){
	"Conv3x3":      func(path, prefix string) (layer, error) { return dyconv.LoadConv3x3(path, prefix) },
	"Project1x1":   func(path, prefix string) (layer, error) { return dyconv.LoadProject1x1(path, prefix) },
	"Depthwise3x3": func(path, prefix string) (layer, error) { return dyconv.LoadDepthwise3x3(path, prefix) },
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("resnet", flag.ContinueOnError)
	weights := fs.String("weights", "", "safetensors `file` with the layers' weights (default: write demo weights to a temporary file)")
	n := fs.Int("n", 8, "the batch size: `samples` per Forward call")
	seed := fs.Uint64("seed", 1, "random `seed` of the input (and of the demo weights)")
	iters := fs.Int("iters", 5, "time the best of `I` runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *n <= 0 || *iters <= 0 {
		return fmt.Errorf("-n and -iters must be positive, got %d and %d", *n, *iters)
	}

	path := *weights
	if path == "" {
		dir, err := os.MkdirTemp("", "resnet-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "demo.safetensors")
		if err := model.WriteDemo(path, *seed); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "weights: random demo weights (seed %d) in %s\n", *seed, path)
	} else {
		fmt.Fprintf(stdout, "weights: %s\n", path)
	}

	layers := make([]layer, len(model.Layers))
	for i, ml := range model.Layers {
		load := loaders[ml.Name]
		if load == nil {
			return fmt.Errorf("no loader for layer %s", ml.Name)
		}
		l, err := load(path, ml.Prefix)
		if err != nil {
			return fmt.Errorf("loading layer %s (prefix %q): %w", ml.Name, ml.Prefix, err)
		}
		layers[i] = l
	}

	// The input: a batch of n samples of the first layer's input size.
	first := model.Layers[0]
	h, w := first.InputH, first.InputW
	c := first.Params.InC
	rng := rand.New(rand.NewPCG(*seed, 0x2545f4914f6cdd1d))
	x := make([]float32, *n*c*h*w)
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}

	fmt.Fprintf(stdout, "batch: %d samples\n", *n)
	var total time.Duration
	for i, l := range layers {
		ml := model.Layers[i]
		ho, wo := l.OutputSize(h, w)
		cout := ml.Params.OutC
		y := make([]float32, *n*cout*ho*wo)
		best := time.Duration(math.MaxInt64)
		for range *iters {
			start := time.Now()
			if err := l.Forward(y, x, *n, h, w); err != nil {
				return fmt.Errorf("layer %s: %w", ml.Name, err)
			}
			best = min(best, time.Since(start))
		}
		total += best
		fmt.Fprintf(stdout, "%-13s %-23s [%d %d %d %d] -> [%d %d %d %d]  %v\n",
			ml.Name, ml.Prefix, *n, c, h, w, *n, cout, ho, wo, best.Round(time.Microsecond))
		x, c, h, w = y, cout, ho, wo
	}

	var sum, sumAbs float64
	for _, v := range x {
		sum += float64(v)
		sumAbs += math.Abs(float64(v))
	}
	fmt.Fprintf(stdout, "output: [%d %d %d %d], checksum sum=%.6g sum|y|=%.6g\n", *n, c, h, w, sum, sumAbs)
	fmt.Fprintf(stdout, "time: %v for %d samples through %d layers (best of %d)\n",
		total.Round(time.Microsecond), *n, len(layers), *iters)
	return nil
}
