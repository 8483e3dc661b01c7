// Package blockmain is the command line the block examples share: it reads
// a golden block file (shared/golden-blocks: the input, PyTorch's float64
// output and the state dict), loads the block's layers from a weights file
// with the generated loader, runs the block, prints its max error against
// PyTorch and its time, and fails beyond the tolerance.
package blockmain

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/dygen/dygen/dyrt"
)

// Forward runs a block on an NCHW batch: src [n,C,h,w] to dst, which has
// the block's output shape. It must not allocate in steady state.
type Forward func(dst, src []float32, n, h, w int) error

// Net is a loaded block.
type Net struct {
	Forward Forward
	// OutShape returns the output's C, Ho and Wo for an h×w input.
	OutShape func(h, w int) (c, ho, wo int)
}

// Block describes one example.
type Block struct {
	// Name is the golden file's base name, e.g. "dyresnet_basic".
	Name string
	// Load reads the block's layers from a safetensors state dict with the
	// generated loader.
	Load func(weights string) (*Net, error)
}

// Golden is what a golden block file holds besides the state dict.
type Golden struct {
	Input []float32
	Shape []int // [N, C, H, W]
	Want  []float64
	Out   []int // [N, C, Ho, Wo]
}

// ReadGolden reads input and output_f64 from a golden block file.
func ReadGolden(path string) (*Golden, error) {
	f, err := dyrt.Open(path)
	if err != nil {
		return nil, err
	}
	in, ok := f.Tensor("input")
	if !ok || len(in.Shape) != 4 {
		return nil, fmt.Errorf("%s: no 4-D tensor \"input\"", path)
	}
	out, ok := f.Tensor("output_f64")
	if !ok || len(out.Shape) != 4 {
		return nil, fmt.Errorf("%s: no 4-D tensor \"output_f64\"", path)
	}
	g := &Golden{Shape: slices.Clone(in.Shape), Out: slices.Clone(out.Shape)}
	if g.Input, err = f.Float32("input", g.Shape...); err != nil {
		return nil, err
	}
	if g.Want, err = f.Float64("output_f64", g.Out...); err != nil {
		return nil, err
	}
	return g, nil
}

// MaxError is max|got−want| and that divided by max(1, max|want|), the
// scale the golden README states its agreements in.
func MaxError(got []float32, want []float64) (abs, rel float64) {
	scale := 1.0
	for i := range want {
		abs = math.Max(abs, math.Abs(float64(got[i])-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	if len(got) != len(want) {
		abs = math.Inf(1)
	}
	return abs, abs / scale
}

// Result is one checked run.
type Result struct {
	Abs, Rel float64
	Median   time.Duration // of the timed runs, 0 when none
}

// Check loads the block from weights, runs it on the golden input and
// compares with output_f64. With iters > 0 it then times iters calls.
func Check(b Block, golden, weights string, iters int) (*Result, error) {
	g, err := ReadGolden(golden)
	if err != nil {
		return nil, err
	}
	net, err := b.Load(weights)
	if err != nil {
		return nil, err
	}
	fwd := net.Forward
	n, h, w := g.Shape[0], g.Shape[2], g.Shape[3]
	c, ho, wo := net.OutShape(h, w)
	if want := []int{n, c, ho, wo}; !slices.Equal(want, g.Out) {
		return nil, fmt.Errorf("%s: output_f64 has shape %v, the block gives %v", golden, g.Out, want)
	}
	dst := make([]float32, n*c*ho*wo)
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	if err := fwd(dst, g.Input, n, h, w); err != nil {
		return nil, err
	}
	r := &Result{}
	r.Abs, r.Rel = MaxError(dst, g.Want)
	if iters > 0 {
		ts := make([]time.Duration, iters)
		for i := range ts {
			t0 := time.Now()
			if err := fwd(dst, g.Input, n, h, w); err != nil {
				return nil, err
			}
			ts[i] = time.Since(t0)
		}
		slices.Sort(ts)
		r.Median = ts[len(ts)/2]
	}
	return r, nil
}

// DefaultGolden is the golden file of the block: in $DYGEN_GOLDEN_BLOCKS
// when set, else in the first shared/golden-blocks found in the working
// directory or above it (the dygen checkout has ../shared beside it).
func DefaultGolden(name string) string {
	dir := os.Getenv("DYGEN_GOLDEN_BLOCKS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "golden-blocks")
		if wd, err := os.Getwd(); err == nil {
			for a := wd; ; a = filepath.Dir(a) {
				if st, err := os.Stat(filepath.Join(a, "shared", "golden-blocks")); err == nil && st.IsDir() {
					dir = filepath.Join(a, "shared", "golden-blocks")
					break
				}
				if filepath.Dir(a) == a {
					break
				}
			}
		}
	}
	return filepath.Join(dir, name+".safetensors")
}

// Main is the examples' main: flags -golden, -weights, -tol and -iters.
// It returns the process's exit code.
func Main(b Block, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(b.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	golden := fs.String("golden", DefaultGolden(b.Name), "the golden block file: input, output_f64 (and, by default, the weights)")
	weights := fs.String("weights", "", "the safetensors state dict to load the layers from (default: the golden file's own)")
	tol := fs.Float64("tol", 1e-5, "the largest accepted max|y−y_f64| / max(1, max|y_f64|)")
	iters := fs.Int("iters", 20, "timed runs after the check (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", b.Name, fs.Args())
		return 2
	}
	if *weights == "" {
		*weights = *golden
	}
	r, err := Check(b, *golden, *weights, *iters)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", b.Name, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: max |y - y_f64| = %.3g (%.3g of max(1, max|y_f64|), tolerance %.3g)\n", b.Name, r.Abs, r.Rel, *tol)
	if r.Median > 0 {
		fmt.Fprintf(stdout, "%s: %v per block (median of %d runs, GOMAXPROCS=%d)\n", b.Name, r.Median, *iters, gomaxprocs())
	}
	if !(r.Rel <= *tol) {
		fmt.Fprintf(stderr, "%s: FAIL: error %.3g beyond the tolerance %.3g\n", b.Name, r.Rel, *tol)
		return 1
	}
	return 0
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// Buffer returns b resliced to n elements, growing it when it is too short:
// the blocks' intermediate activations, kept between calls.
func Buffer(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// GoldenOrSkip returns the block's golden file, or "" when it is missing
// and DYGEN_REQUIRE_GOLDEN is not 1 (the tests then skip).
func GoldenOrSkip(name string) (string, error) {
	path := DefaultGolden(name)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("DYGEN_REQUIRE_GOLDEN") == "1" {
			return "", fmt.Errorf("DYGEN_REQUIRE_GOLDEN=1 but %v", err)
		}
		return "", nil
	}
	return path, nil
}
