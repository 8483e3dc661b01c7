package verify

import (
	"fmt"
	"math"
)

// Routings: how a layer turns its input into the coefficients that fuse its
// experts (../shared/golden-family/README.md has each one's math).
const (
	DyNet    = "dynet"    // the seed DyNet2D: FC to K·Cout logits, a gate per (expert, channel)
	CondConv = "condconv" // timm's CondConv2d: FC to K logits, sigmoid, per sample
	DyCNN    = "dycnn"    // DY-CNN: FC, ReLU, FC to K logits, softmax(z/T), per sample
	ODConv   = "odconv"   // ODConv: FC, BN, ReLU, four attention heads
	Static   = "static"   // a plain Conv2d: one kernel, no routing
)

// Gates of a DyNet layer.
const (
	Softmax = "softmax" // over the K experts, per output channel
	Sigmoid = "sigmoid" // per expert and output channel, not normalised
)

// Activations, applied last (after the BN and the residual).
const (
	ActNone      = "none"
	ActReLU      = "relu"
	ActReLU6     = "relu6"
	ActHardswish = "hardswish"
	ActSiLU      = "silu"
	ActSigmoid   = "sigmoid"
)

// Routings, Gates and Activations list the values each key takes.
var (
	Routings    = []string{DyNet, CondConv, DyCNN, ODConv, Static}
	Gates       = []string{Softmax, Sigmoid}
	Activations = []string{ActNone, ActReLU, ActReLU6, ActHardswish, ActSiLU, ActSigmoid}
)

// DefaultBNEps is BatchNorm2d's default eps.
const DefaultBNEps = 1e-5

// ODConvAttnBNEps is the eps of ODConv's attention BatchNorm, fixed by the
// reference.
const ODConvAttnBNEps = 1e-5

// WithDefaults returns p with its empty family fields filled in: routing
// dynet, gate softmax (dynet only), temperature 1 (dycnn and odconv only),
// the reference's attention width (dycnn and odconv only), eps 1e-5 (with
// BN only) and activation none. Params built before the family existed
// (only the conv's fields set) thereby mean the seed DyNet2D layer. Fields
// that do not apply to the routing are cleared, so that two Params of the
// same layer compare equal.
func (p Params) WithDefaults() Params {
	if p.Routing == "" {
		p.Routing = DyNet
	}
	if p.Routing == DyNet {
		if p.Gate == "" {
			p.Gate = Softmax
		}
	} else {
		p.Gate = ""
	}
	if p.Routing == DyCNN || p.Routing == ODConv {
		if p.Temperature == 0 {
			p.Temperature = 1
		}
		if p.AttnC == 0 {
			p.AttnC = DefaultAttnC(p.Routing, p.InC, p.K)
		}
	} else {
		p.Temperature, p.AttnC = 0, 0
	}
	if p.BatchNorm {
		if p.BNEps == 0 {
			p.BNEps = DefaultBNEps
		}
	} else {
		p.BNEps = 0
	}
	if p.Activation == "" {
		p.Activation = ActNone
	}
	if p.Routing == Static {
		p.K, p.ExternalRouting = 1, false
	}
	return p
}

// DefaultAttnC is the reference's attention width A: for DY-CNN
// int(Cin·0.25)+1, or K when Cin = 3; for ODConv max(int(Cin·0.0625), 16).
// It is 0 for the other routings.
func DefaultAttnC(routing string, inC, k int) int {
	switch routing {
	case DyCNN:
		if inC == 3 {
			return k
		}
		return inC/4 + 1
	case ODConv:
		return max(inC/16, 16)
	}
	return 0
}

// checkFamily reports what is wrong with p's family fields: values outside
// their lists, and the combinations the references do not define. p has
// its defaults filled in.
func (p Params) checkFamily() error {
	in := func(v string, list []string) bool {
		for _, s := range list {
			if s == v {
				return true
			}
		}
		return false
	}
	switch {
	case !in(p.Routing, Routings):
		return fmt.Errorf("routing must be one of %v, got %q", Routings, p.Routing)
	case p.Routing == DyNet && !in(p.Gate, Gates):
		return fmt.Errorf("gate must be softmax or sigmoid, got %q", p.Gate)
	case !in(p.Activation, Activations):
		return fmt.Errorf("activation must be one of %v, got %q", Activations, p.Activation)
	case p.BatchNorm && !(p.BNEps > 0 && !math.IsInf(p.BNEps, 0)):
		return fmt.Errorf("batch_norm_eps must be a positive number, got %v", p.BNEps)
	}
	if p.Routing == DyCNN || p.Routing == ODConv {
		if !(p.Temperature > 0 && !math.IsInf(p.Temperature, 0)) {
			return fmt.Errorf("temperature must be a positive number, got %v", p.Temperature)
		}
		if p.AttnC <= 0 {
			return fmt.Errorf("attention_channels must be positive, got %d", p.AttnC)
		}
		if p.KH != p.KW || p.SH != p.SW || p.DH != p.DW || p.PadT != p.PadB || p.PadL != p.PadR || p.PadT != p.PadL {
			return fmt.Errorf("%s takes a square kernel, stride, padding and dilation (the reference's are ints), got kernel [%d, %d], stride [%d, %d], padding (t%d, b%d, l%d, r%d), dilation [%d, %d]",
				p.Routing, p.KH, p.KW, p.SH, p.SW, p.PadT, p.PadB, p.PadL, p.PadR, p.DH, p.DW)
		}
	}
	if p.Routing == ODConv {
		if p.Mode != Zeros {
			return fmt.Errorf("odconv has only zero padding (its channel attention scales the input before the conv pads it), got padding_mode %s", p.Mode)
		}
		if p.Bias {
			return fmt.Errorf("odconv has no conv bias (ODConv2d has none), got bias: true")
		}
	}
	if p.Routing == Static && p.ExternalRouting {
		return fmt.Errorf("a static layer has no routing to take from outside")
	}
	return nil
}

// ODHeads reports which of ODConv's attention heads a layer has: the filter
// head unless the layer is depthwise (Cin = groups = Cout), the spatial head
// unless the kernel is 1×1, the kernel head unless K = 1.
func (p Params) ODHeads() (filter, spatial, kernel bool) {
	return !(p.InC == p.Groups && p.OutC == p.Groups), p.KH*p.KW != 1, p.K != 1
}

// RoutingLen is the length of one sample's routing coefficients, as Route
// writes them and ForwardRouted reads them:
//   - dynet: π [K, Cout];
//   - condconv, dycnn: the K coefficients of the sample;
//   - odconv: α_c [Cin], α_f [Cout], α_s [KH·KW] and α_w [K] one after the
//     other, each 1 where the layer has no such head;
//   - static: 0.
func (p Params) RoutingLen() int {
	switch p.WithDefaults().Routing {
	case DyNet:
		return p.K * p.OutC
	case CondConv, DyCNN:
		return p.K
	case ODConv:
		return p.InC + p.OutC + p.KH*p.KW + p.K
	}
	return 0
}

// Modules of a layer's state dict that its tensors' names are relative to.
const (
	ModConv    = "conv"    // the conv module: "", or the spec's state_dict.conv
	ModRouting = "routing" // the routing module: by default under the conv's path
	ModBN      = "bn"      // the BatchNorm2d that follows the conv: by default conv + "bn."
)

// Tensor describes one parameter tensor of a layer: where it lives in a
// state dict, its shape, and the Weights field that holds it.
type Tensor struct {
	Field  string // the field of Weights (and of the generated XWeights)
	Module string // ModConv, ModRouting or ModBN
	Name   string // the name relative to that module's path, e.g. "weight"
	Shape  []int  // PyTorch's shape
	Doc    string // what it is, for generated documentation
}

// Len is the number of elements of the tensor.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// DefaultRoutingPath is where the routing module's tensors live relative to
// the conv's path when the spec does not give state_dict.routing:
// "_coefficient_fn.fc." (dynet), "routing_fn." (condconv, as the golden
// single-layer cases store it), "attention." (dycnn, odconv).
func (p Params) DefaultRoutingPath() string {
	switch p.WithDefaults().Routing {
	case DyNet:
		return "_coefficient_fn.fc."
	case CondConv:
		return "routing_fn."
	case DyCNN, ODConv:
		return "attention."
	}
	return ""
}

// Tensors lists the layer's parameter tensors in state-dict order: the
// conv's, the routing's (none for static layers and external routing) and
// the BN's.
func (p Params) Tensors() []Tensor {
	p = p.WithDefaults()
	cinG, k, cout, cin, a := p.InPerGroup(), p.K, p.OutC, p.InC, p.AttnC
	var ts []Tensor
	add := func(field, mod, name, doc string, shape ...int) {
		ts = append(ts, Tensor{Field: field, Module: mod, Name: name, Shape: shape, Doc: doc})
	}
	switch p.Routing {
	case Static:
		add("Weight", ModConv, "weight", "the kernel", cout, cinG, p.KH, p.KW)
	case CondConv:
		add("Weight", ModConv, "weight", "the K expert kernels, each [Cout, Cin/groups, KH, KW] flattened as timm stores them", k, cout*cinG*p.KH*p.KW)
	default:
		add("Weight", ModConv, "weight", "the K expert kernels", k, cout, cinG, p.KH, p.KW)
	}
	if p.Bias {
		switch p.Routing {
		case CondConv, DyCNN:
			add("Bias", ModConv, "bias", "one bias per expert, mixed by the routing", k, cout)
		default:
			add("Bias", ModConv, "bias", "the bias", cout)
		}
	}
	if !p.ExternalRouting {
		switch p.Routing {
		case DyNet:
			add("FCWeight", ModRouting, "weight", "the coefficient FC: row k·Cout+o feeds expert k of output channel o", k*cout, cin)
			add("FCBias", ModRouting, "bias", "the coefficient FC's bias", k*cout)
		case CondConv:
			add("RoutingWeight", ModRouting, "weight", "the routing Linear", k, cin)
			add("RoutingBias", ModRouting, "bias", "the routing Linear's bias", k)
		case DyCNN:
			add("FC1Weight", ModRouting, "fc1.weight", "the attention's first 1×1 conv (no bias)", a, cin, 1, 1)
			add("FC2Weight", ModRouting, "fc2.weight", "the attention's second 1×1 conv", k, a, 1, 1)
			add("FC2Bias", ModRouting, "fc2.bias", "its bias", k)
		case ODConv:
			filter, spatial, kernel := p.ODHeads()
			add("AttnWeight", ModRouting, "fc.weight", "the attention's 1×1 conv (no bias)", a, cin, 1, 1)
			add("AttnBNWeight", ModRouting, "bn.weight", "the attention BN's weight", a)
			add("AttnBNBias", ModRouting, "bn.bias", "the attention BN's bias", a)
			add("AttnBNMean", ModRouting, "bn.running_mean", "the attention BN's running mean", a)
			add("AttnBNVar", ModRouting, "bn.running_var", "the attention BN's running variance", a)
			add("ChannelWeight", ModRouting, "channel_fc.weight", "the input-channel head", cin, a, 1, 1)
			add("ChannelBias", ModRouting, "channel_fc.bias", "its bias", cin)
			if filter {
				add("FilterWeight", ModRouting, "filter_fc.weight", "the output-channel head", cout, a, 1, 1)
				add("FilterBias", ModRouting, "filter_fc.bias", "its bias", cout)
			}
			if spatial {
				add("SpatialWeight", ModRouting, "spatial_fc.weight", "the spatial head", p.KH*p.KW, a, 1, 1)
				add("SpatialBias", ModRouting, "spatial_fc.bias", "its bias", p.KH*p.KW)
			}
			if kernel {
				add("KernelWeight", ModRouting, "kernel_fc.weight", "the kernel head", k, a, 1, 1)
				add("KernelBias", ModRouting, "kernel_fc.bias", "its bias", k)
			}
		}
	}
	if p.BatchNorm {
		add("BNWeight", ModBN, "weight", "the BatchNorm's weight (γ)", cout)
		add("BNBias", ModBN, "bias", "the BatchNorm's bias (β)", cout)
		add("BNMean", ModBN, "running_mean", "the BatchNorm's running mean", cout)
		add("BNVar", ModBN, "running_var", "the BatchNorm's running variance", cout)
	}
	return ts
}

// WeightFields lists every field of Weights, in declaration order.
var WeightFields = []string{"Weight", "Bias", "FCWeight", "FCBias", "RoutingWeight", "RoutingBias",
	"FC1Weight", "FC2Weight", "FC2Bias", "AttnWeight", "AttnBNWeight", "AttnBNBias", "AttnBNMean", "AttnBNVar",
	"ChannelWeight", "ChannelBias", "FilterWeight", "FilterBias", "SpatialWeight", "SpatialBias",
	"KernelWeight", "KernelBias", "BNWeight", "BNBias", "BNMean", "BNVar"}

// Field returns a pointer to the field of w named name (one of
// WeightFields), or nil.
func (w *Weights) Field(name string) *[]float32 {
	switch name {
	case "Weight":
		return &w.Weight
	case "Bias":
		return &w.Bias
	case "FCWeight":
		return &w.FCWeight
	case "FCBias":
		return &w.FCBias
	case "RoutingWeight":
		return &w.RoutingWeight
	case "RoutingBias":
		return &w.RoutingBias
	case "FC1Weight":
		return &w.FC1Weight
	case "FC2Weight":
		return &w.FC2Weight
	case "FC2Bias":
		return &w.FC2Bias
	case "AttnWeight":
		return &w.AttnWeight
	case "AttnBNWeight":
		return &w.AttnBNWeight
	case "AttnBNBias":
		return &w.AttnBNBias
	case "AttnBNMean":
		return &w.AttnBNMean
	case "AttnBNVar":
		return &w.AttnBNVar
	case "ChannelWeight":
		return &w.ChannelWeight
	case "ChannelBias":
		return &w.ChannelBias
	case "FilterWeight":
		return &w.FilterWeight
	case "FilterBias":
		return &w.FilterBias
	case "SpatialWeight":
		return &w.SpatialWeight
	case "SpatialBias":
		return &w.SpatialBias
	case "KernelWeight":
		return &w.KernelWeight
	case "KernelBias":
		return &w.KernelBias
	case "BNWeight":
		return &w.BNWeight
	case "BNBias":
		return &w.BNBias
	case "BNMean":
		return &w.BNMean
	case "BNVar":
		return &w.BNVar
	}
	return nil
}
