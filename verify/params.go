// Package verify holds dygen's oracle: a plain, generic, float64 reference
// implementation of a DyConv layer, the error model that bounds how far a
// float32 implementation may stray from it, a loader for the PyTorch golden
// files, and the buffer helpers (guard bands, NaN sentinels) that the
// generated tests use.
package verify

import "fmt"

// Padding modes, with PyTorch's Conv2d meaning.
const (
	Zeros     = "zeros"
	Reflect   = "reflect"
	Replicate = "replicate"
	Circular  = "circular"
)

// Params is one DyConv layer's hyperparameters, fully resolved: padding is
// given per side (PyTorch's padding="same" is asymmetric for even windows),
// every size is explicit.
type Params struct {
	InC, OutC int // input and output channels
	KH, KW    int // kernel window
	SH, SW    int // stride
	DH, DW    int // dilation
	// Padding per side: top, bottom, left, right.
	PadT, PadB, PadL, PadR int
	Groups                 int
	K                      int    // number of experts
	Bias                   bool   // whether the layer has a bias
	Mode                   string // Zeros, Reflect, Replicate or Circular

	// The dynamic-convolution family and the epilogue (family.go). The
	// zero values mean the seed DyNet2D layer: WithDefaults fills them in.
	Routing         string  // DyNet, CondConv, DyCNN, ODConv or Static
	Gate            string  // DyNet only: Softmax or Sigmoid
	Temperature     float64 // DyCNN and ODConv only: T, the divisor of the attention logits
	AttnC           int     // DyCNN and ODConv only: A, the attention's hidden width
	BatchNorm       bool    // an eval-mode BatchNorm2d follows the conv
	BNEps           float64 // that BatchNorm's eps
	Activation      string  // ActNone, ActReLU, …: applied last
	Residual        bool    // a tensor of the output's shape is added after the BN, before the activation
	ExternalRouting bool    // the routing comes from outside (routing_input: external)
}

// InPerGroup is Cin/groups, the input channels that feed one output channel.
func (p Params) InPerGroup() int { return p.InC / p.Groups }

// OutPerGroup is Cout/groups.
func (p Params) OutPerGroup() int { return p.OutC / p.Groups }

// Taps is the accumulation length of one output: Cin/groups·KH·KW.
func (p Params) Taps() int { return p.InPerGroup() * p.KH * p.KW }

// WeightLen is the length of the expert weight tensor [K,Cout,Cin/groups,KH,KW].
func (p Params) WeightLen() int { return p.K * p.OutC * p.Taps() }

// BiasLen is the length of the bias tensor: Cout ([K, Cout] for condconv
// and dycnn, whose experts each have one), or 0 without bias.
func (p Params) BiasLen() int {
	if !p.Bias {
		return 0
	}
	if r := p.WithDefaults().Routing; r == CondConv || r == DyCNN {
		return p.K * p.OutC
	}
	return p.OutC
}

// FCWeightLen is the length of a DyNet layer's coefficient FC weight
// [K·Cout, Cin] (0 for the other routings and for external routing).
func (p Params) FCWeightLen() int {
	if q := p.WithDefaults(); q.Routing != DyNet || q.ExternalRouting {
		return 0
	}
	return p.K * p.OutC * p.InC
}

// FCBiasLen is the length of a DyNet layer's coefficient FC bias [K·Cout]
// (0 for the other routings and for external routing).
func (p Params) FCBiasLen() int {
	if q := p.WithDefaults(); q.Routing != DyNet || q.ExternalRouting {
		return 0
	}
	return p.K * p.OutC
}

// OutputSize is the output size for an h×w input, as PyTorch computes it.
// It returns non-positive sizes when the padded input is smaller than the
// dilated kernel; CheckInput reports that as an error.
func (p Params) OutputSize(h, w int) (ho, wo int) {
	ho = floorDiv(h+p.PadT+p.PadB-p.DH*(p.KH-1)-1, p.SH) + 1
	wo = floorDiv(w+p.PadL+p.PadR-p.DW*(p.KW-1)-1, p.SW) + 1
	return ho, wo
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Check reports whether the hyperparameters themselves are valid.
func (p Params) Check() error {
	type pos struct {
		name string
		v    int
	}
	for _, f := range []pos{{"in_channels", p.InC}, {"out_channels", p.OutC},
		{"kernel height", p.KH}, {"kernel width", p.KW}, {"stride height", p.SH}, {"stride width", p.SW},
		{"dilation height", p.DH}, {"dilation width", p.DW}, {"groups", p.Groups}, {"num_experts", p.K}} {
		if f.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", f.name, f.v)
		}
	}
	for _, f := range []pos{{"top padding", p.PadT}, {"bottom padding", p.PadB}, {"left padding", p.PadL}, {"right padding", p.PadR}} {
		if f.v < 0 {
			return fmt.Errorf("%s must be non-negative, got %d", f.name, f.v)
		}
	}
	if err := p.CheckGroups(); err != nil {
		return err
	}
	switch p.Mode {
	case Zeros, Reflect, Replicate, Circular:
	default:
		return fmt.Errorf("padding_mode must be zeros, reflect, replicate or circular, got %q", p.Mode)
	}
	q := p.WithDefaults()
	if p.Routing == Static && p.K != 1 {
		return fmt.Errorf("a static layer has one kernel: num_experts must be 1, got %d", p.K)
	}
	return q.checkFamily()
}

// CheckGroups reports whether groups divides both channel counts.
func (p Params) CheckGroups() error {
	if p.InC%p.Groups != 0 {
		return fmt.Errorf("in_channels %d is not divisible by groups %d", p.InC, p.Groups)
	}
	if p.OutC%p.Groups != 0 {
		return fmt.Errorf("out_channels %d is not divisible by groups %d", p.OutC, p.Groups)
	}
	return nil
}

// CheckInput reports whether an h×w input is valid for the layer: positive,
// large enough for the dilated kernel after padding, and large enough for the
// padding mode (reflect needs padding < size, circular padding <= size, as
// PyTorch requires).
func (p Params) CheckInput(h, w int) error {
	if h <= 0 || w <= 0 {
		return fmt.Errorf("input size must be positive, got %dx%d", h, w)
	}
	switch p.Mode {
	case Reflect:
		if p.PadT >= h || p.PadB >= h {
			return fmt.Errorf("reflect padding (%d, %d) must be smaller than the input height %d", p.PadT, p.PadB, h)
		}
		if p.PadL >= w || p.PadR >= w {
			return fmt.Errorf("reflect padding (%d, %d) must be smaller than the input width %d", p.PadL, p.PadR, w)
		}
	case Circular:
		if p.PadT > h || p.PadB > h {
			return fmt.Errorf("circular padding (%d, %d) must not exceed the input height %d", p.PadT, p.PadB, h)
		}
		if p.PadL > w || p.PadR > w {
			return fmt.Errorf("circular padding (%d, %d) must not exceed the input width %d", p.PadL, p.PadR, w)
		}
	}
	ph, pw := h+p.PadT+p.PadB, w+p.PadL+p.PadR
	eh, ew := p.DH*(p.KH-1)+1, p.DW*(p.KW-1)+1
	if ph < eh || pw < ew {
		return fmt.Errorf("padded input %dx%d is smaller than the dilated kernel %dx%d", ph, pw, eh, ew)
	}
	return nil
}

// MapIndex maps a padded coordinate i (the unpadded input occupies 0..n-1)
// to the input index it reads under the padding mode, or -1 when it reads a
// zero. It is the one definition of the padding modes that every
// implementation is tested against.
func MapIndex(mode string, i, n int) int {
	if i >= 0 && i < n {
		return i
	}
	switch mode {
	case Reflect:
		if i < 0 {
			return -i
		}
		return 2*(n-1) - i
	case Replicate:
		if i < 0 {
			return 0
		}
		return n - 1
	case Circular:
		return ((i % n) + n) % n
	}
	return -1
}

// Weights holds a layer's parameters in PyTorch's layouts; Params.Tensors
// lists which fields a layer has, with their shapes and state-dict names.
// The seed DyNet layer has Weight [K,Cout,Cin/groups,KH,KW], Bias [Cout]
// (nil without bias), FCWeight [K·Cout,Cin] and FCBias [K·Cout].
type Weights struct {
	Weight, Bias     []float32 // the experts (static: the kernel) and the conv's bias
	FCWeight, FCBias []float32 // dynet: the coefficient FC

	RoutingWeight, RoutingBias []float32 // condconv: the routing Linear [K, Cin], [K]

	FC1Weight, FC2Weight, FC2Bias []float32 // dycnn: the attention [A, Cin], [K, A], [K]

	// odconv: the attention's FC [A, Cin] and BN [A], and its heads:
	// channel [Cin, A], filter [Cout, A], spatial [KH·KW, A], kernel [K, A],
	// each with a bias.
	AttnWeight                                      []float32
	AttnBNWeight, AttnBNBias, AttnBNMean, AttnBNVar []float32
	ChannelWeight, ChannelBias                      []float32
	FilterWeight, FilterBias                        []float32
	SpatialWeight, SpatialBias                      []float32
	KernelWeight, KernelBias                        []float32

	BNWeight, BNBias, BNMean, BNVar []float32 // the BatchNorm after the conv [Cout]
}

// CheckWeights reports whether every slice has the length the layer needs:
// those of Params.Tensors, and empty for every other field.
func (p Params) CheckWeights(w Weights) error {
	want := map[string]int{}
	for _, t := range p.Tensors() {
		want[t.Field] = t.Len()
	}
	for _, f := range WeightFields {
		if got := len(*w.Field(f)); got != want[f] {
			if want[f] == 0 {
				return fmt.Errorf("%s has %d elements, want none (the layer has no such tensor)", f, got)
			}
			return fmt.Errorf("%s has %d elements, want %d", f, got, want[f])
		}
	}
	return nil
}

// String prints the layer like a PyTorch module's repr; the family's
// fields follow when they are not the seed layer's.
func (p Params) String() string {
	s := fmt.Sprintf("DyConv2d(%d, %d, kernel_size=(%d, %d), stride=(%d, %d), padding=(t%d, b%d, l%d, r%d), dilation=(%d, %d), groups=%d, bias=%v, padding_mode=%s, num_experts=%d",
		p.InC, p.OutC, p.KH, p.KW, p.SH, p.SW, p.PadT, p.PadB, p.PadL, p.PadR, p.DH, p.DW, p.Groups, p.Bias, p.Mode, p.K)
	q := p.WithDefaults()
	if q.Routing != DyNet || q.Gate != Softmax {
		s += ", routing=" + q.Routing
		if q.Gate != "" {
			s += ", gate=" + q.Gate
		}
	}
	if q.Temperature != 0 {
		s += fmt.Sprintf(", temperature=%g, attention_channels=%d", q.Temperature, q.AttnC)
	}
	if q.ExternalRouting {
		s += ", routing_input=external"
	}
	if q.BatchNorm {
		s += fmt.Sprintf(", batch_norm(eps=%g)", q.BNEps)
	}
	if q.Residual {
		s += ", residual"
	}
	if q.Activation != ActNone {
		s += ", activation=" + q.Activation
	}
	return s + ")"
}
