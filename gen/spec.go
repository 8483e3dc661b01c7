// Package gen is dygen's generator: it parses a layer spec (spec.go), turns
// each layer into a plan that fixes every shape, tile and offset (plan.go),
// and hands the plan to the emitters that write Go (emit_go.go) and, later,
// assembly.
package gen

import "github.com/dygen/dygen/verify"

// Spec is a parsed spec file.
type Spec struct {
	Path    string  // the file name, as given, used in error messages
	Package string  // Go package name to emit
	Layers  []Layer // in file order
}

// Layer is one layer of a spec, resolved.
type Layer struct {
	Name   string        // exported Go identifier
	Line   int           // line of the layer's entry in the spec file
	Params verify.Params // resolved hyperparameters
	// InputH and InputW fix the spatial size when the spec gives input_size;
	// both are 0 when H and W are run-time arguments.
	InputH, InputW int
	// StateDict holds the module paths of the layer's tensors in a state
	// dict (the spec's state_dict), "" where the spec gives none.
	StateDict StateDict
}

// StateDict is where a layer's tensors live in a PyTorch state dict: the
// module paths of the conv, of the BatchNorm after it and of its routing
// (without a trailing dot).
type StateDict struct {
	Conv, BatchNorm, Routing string
}

// Prefixes returns the name prefixes of the conv's, the routing's and the
// BN's tensors, relative to the loader's prefix: the spec's state_dict
// paths with a dot, or by default "" for the conv, then the conv's prefix
// with the routing's default path (p.DefaultRoutingPath) and "bn.".
func (sd StateDict) Prefixes(p verify.Params) (conv, routing, bn string) {
	if sd.Conv != "" {
		conv = sd.Conv + "."
	}
	routing, bn = conv+p.DefaultRoutingPath(), conv+"bn."
	if sd.Routing != "" {
		routing = sd.Routing + "."
	}
	if sd.BatchNorm != "" {
		bn = sd.BatchNorm + "."
	}
	return conv, routing, bn
}

// Fixed reports whether the layer's input size is fixed at generation time.
func (l Layer) Fixed() bool { return l.InputH > 0 }
