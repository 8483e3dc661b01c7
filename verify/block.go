package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dygen/dygen/dyrt"
)

// Block is one golden block (shared/golden-blocks/README.md): a small
// network of family layers, its state dict, an input and what PyTorch
// computed for it.
type Block struct {
	Path        string
	Kind        string // __metadata__.block's kind, e.g. "dyresnet_basic"
	Description string
	Forward     string // the wiring as a formula
	InShape     []int  // [N, C, H, W] of the input
	OutShape    []int  // [N, C, Ho, Wo] of the output
	Input       []float32
	Output      []float32 // PyTorch's float32 run
	Want        []float64 // output_f64
	Convs       []BlockConv
	// RoutingFn is the module path of the block's shared routing Linear
	// (condconv_residual), or "".
	RoutingFn string
	// Routing is the stored shared routing r [N, K] (condconv_residual), for
	// debugging, or nil.
	Routing []float32
	// File is the whole safetensors file: every tensor of the state dict
	// by its name (File.Float32).
	File *dyrt.File
}

// BlockConv is one conv of a block, in execution order, as one family
// layer: conv → BN → (+ residual) → activation.
type BlockConv struct {
	Path    string // the conv's module path
	Name    string // the spec's name
	Params  Params // defaults filled in
	N, H, W int    // batch and the input size that reaches this conv
	// The spec's state_dict: the module paths of the conv, its BN and its
	// routing ("" where the spec gives none: the routing then lives under
	// the conv's path at Params.DefaultRoutingPath, the BN at conv + ".bn").
	ConvPath, BNPath, RoutingPath string
	RoutingInput                  string // the spec's routing_input: "own", "external" (Params.ExternalRouting), or "" when absent
	BatchNorm                     string // the module path of the BN that follows, or ""
	Activation                    string // what follows the BN (and the residual)
	Residual                      string // "block_input" when the block's input is added, else ""
	Weights                       Weights
}

// blockMeta is __metadata__.block.
type blockMeta struct {
	Kind        string `json:"kind"`
	Description string `json:"description"`
	Forward     string `json:"forward"`
	Input       []int  `json:"input"`
	Output      []int  `json:"output"`
	Convs       []struct {
		Path       string          `json:"path"`
		Spec       json.RawMessage `json:"spec"`
		BatchNorm  *string         `json:"batch_norm"`
		Activation *string         `json:"activation"`
		Residual   *string         `json:"residual"`
	} `json:"convs"`
	RoutingFn *string `json:"routing_fn"`
}

// LoadBlock reads a golden block: the metadata's convs, each resolved into
// a family layer whose weights are read from the state dict (every tensor
// of Params.Tensors under the spec's state_dict paths), the input, output,
// output_f64 and, where the block has one, the shared routing. Errors name
// the file, the conv and the problem.
func LoadBlock(path string) (*Block, error) {
	f, err := dyrt.Open(path)
	if err != nil {
		return nil, err
	}
	raw, ok := f.Metadata["block"]
	if !ok {
		return nil, fmt.Errorf("%s: no __metadata__.block in the header", path)
	}
	var m blockMeta
	if err := json.NewDecoder(strings.NewReader(raw)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: block: %v", path, err)
	}
	if len(m.Input) != 4 || len(m.Output) != 4 {
		return nil, fmt.Errorf("%s: block: input %v and output %v must be [N, C, H, W]", path, m.Input, m.Output)
	}
	for _, d := range append(slices.Clone(m.Input), m.Output...) {
		if d <= 0 {
			return nil, fmt.Errorf("%s: block: input %v and output %v must have positive dimensions", path, m.Input, m.Output)
		}
	}
	if len(m.Convs) == 0 {
		return nil, fmt.Errorf("%s: block: no convs", path)
	}
	b := &Block{Path: path, Kind: m.Kind, Description: m.Description, Forward: m.Forward,
		InShape: m.Input, OutShape: m.Output, File: f}
	if m.RoutingFn != nil {
		b.RoutingFn = *m.RoutingFn
	}
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	for i, c := range m.Convs {
		var spec goldenSpec
		if err := json.Unmarshal(c.Spec, &spec); err != nil {
			return nil, fmt.Errorf("%s: conv %d (%s): spec: %v", path, i, c.Path, err)
		}
		p, n, h, w, err := paramsFromSpec(&spec)
		if err != nil {
			return nil, fmt.Errorf("%s: conv %d (%s): spec: %v", path, i, c.Path, err)
		}
		bc := BlockConv{Path: c.Path, Name: spec.Name, Params: p, N: n, H: h, W: w, ConvPath: c.Path, RoutingInput: str(spec.RoutingInput),
			BatchNorm: str(c.BatchNorm), Activation: str(c.Activation), Residual: str(c.Residual)}
		for key, v := range spec.StateDict {
			switch key {
			case "conv":
				bc.ConvPath = v
			case "batch_norm":
				bc.BNPath = v
			case "routing":
				bc.RoutingPath = v
			default:
				return nil, fmt.Errorf("%s: conv %d (%s): state_dict has an unknown key %q (want conv, batch_norm, routing)", path, i, c.Path, key)
			}
		}
		switch bc.Residual {
		case "", "block_input":
		default:
			return nil, fmt.Errorf("%s: conv %d (%s): residual is %q, want \"block_input\" or null", path, i, c.Path, bc.Residual)
		}
		if (bc.Residual != "") != p.Residual {
			return nil, fmt.Errorf("%s: conv %d (%s): residual %q disagrees with the spec's residual: %v", path, i, c.Path, bc.Residual, p.Residual)
		}
		if bc.Weights, err = loadWeights(f, p, bc.prefix); err != nil {
			return nil, fmt.Errorf("%s: conv %d (%s): %s", path, i, c.Path, strings.TrimPrefix(err.Error(), path+": "))
		}
		b.Convs = append(b.Convs, bc)
	}
	first, last := b.Convs[0], b.Convs[len(b.Convs)-1]
	if first.N != m.Input[0] || first.Params.InC != m.Input[1] || first.H != m.Input[2] || first.W != m.Input[3] {
		return nil, fmt.Errorf("%s: conv 0 (%s) takes [%d %d %d %d], the block's input is %v", path, first.Path, first.N, first.Params.InC, first.H, first.W, m.Input)
	}
	if ho, wo := last.Params.OutputSize(last.H, last.W); last.N != m.Output[0] || last.Params.OutC != m.Output[1] || ho != m.Output[2] || wo != m.Output[3] {
		return nil, fmt.Errorf("%s: the last conv (%s) gives [%d %d %d %d], the block's output is %v", path, last.Path, last.N, last.Params.OutC, ho, wo, m.Output)
	}
	if b.Input, err = f.Float32("input", m.Input...); err != nil {
		return nil, err
	}
	if b.Output, err = f.Float32("output", m.Output...); err != nil {
		return nil, err
	}
	if b.Want, err = f.Float64("output_f64", m.Output...); err != nil {
		return nil, err
	}
	if b.RoutingFn != "" || f.Has("routing") {
		k := first.Params.K
		if b.Routing, err = f.Float32("routing", m.Input[0], k); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// prefix is the state-dict prefix of one of the conv's modules.
func (c *BlockConv) prefix(module string) string {
	switch module {
	case ModRouting:
		if c.RoutingPath != "" {
			return modulePrefix(c.RoutingPath)
		}
		return modulePrefix(c.ConvPath) + c.Params.DefaultRoutingPath()
	case ModBN:
		if c.BNPath != "" {
			return modulePrefix(c.BNPath)
		}
		return modulePrefix(c.ConvPath) + "bn."
	}
	return modulePrefix(c.ConvPath)
}

// SharedRouting computes the block's shared routing from the block input
// x [N,C,H,W] in float64: r = σ(W·mean_hw(x) + b) with the Linear at
// RoutingFn (timm's CondConvResidual), [N, K]. It returns nil when the
// block has no shared routing.
func (b *Block) SharedRouting(x []float64) ([]float64, error) {
	if b.RoutingFn == "" {
		return nil, nil
	}
	n, c, hw := b.InShape[0], b.InShape[1], b.InShape[2]*b.InShape[3]
	name := modulePrefix(b.RoutingFn) + "weight"
	t, ok := b.File.Tensor(name)
	if !ok || len(t.Shape) != 2 || t.Shape[1] != c {
		return nil, fmt.Errorf("%s: routing_fn %q: want a tensor %q of shape [K, %d]", b.Path, b.RoutingFn, name, c)
	}
	k := t.Shape[0]
	wt, err := b.File.Float32(name, k, c)
	if err != nil {
		return nil, err
	}
	bias, err := b.File.Float32(modulePrefix(b.RoutingFn)+"bias", k)
	if err != nil {
		return nil, err
	}
	if len(x) != n*c*hw {
		return nil, fmt.Errorf("%s: block input has %d elements, want %d", b.Path, len(x), n*c*hw)
	}
	r := make([]float64, n*k)
	for s := range n {
		for j := range k {
			z := float64(bias[j])
			for ci := range c {
				m := 0.0
				for _, v := range x[(s*c+ci)*hw : (s*c+ci+1)*hw] {
					m += v
				}
				z += float64(wt[j*c+ci]) * m / float64(hw)
			}
			r[s*k+j] = sigmoid(z)
		}
	}
	return r, nil
}

// Reference runs the block in float64, conv by conv, with the block's
// wiring: each conv takes the previous conv's output (the first, the block
// input); a residual "block_input" is the block's input; a conv whose
// routing comes from outside takes the block's shared routing
// (SharedRouting of the block input). Nothing is rounded to float32
// between the convs. It returns the block's output [N,C,Ho,Wo].
func (b *Block) Reference() ([]float64, error) {
	in := widen(b.Input)
	shared, err := b.SharedRouting(in)
	if err != nil {
		return nil, err
	}
	x := in
	for i, c := range b.Convs {
		var e extra64
		if c.Params.Residual {
			e.residual = in
		}
		if c.Params.ExternalRouting {
			if shared == nil {
				return nil, fmt.Errorf("%s: conv %d (%s) takes its routing from outside, but the block has no routing_fn", b.Path, i, c.Path)
			}
			e.routing = shared
		}
		r, err := reference64(c.Params, c.Weights, x, c.N, c.H, c.W, e)
		if err != nil {
			return nil, fmt.Errorf("%s: conv %d (%s): %w", b.Path, i, c.Path, err)
		}
		x = r.Y
	}
	return x, nil
}

// maxRelDiff is max|a−b| / max(1, max|b|), +Inf on a length mismatch.
func maxRelDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d / math.Max(1, maxAbs(b))
}
