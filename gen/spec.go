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
}

// Fixed reports whether the layer's input size is fixed at generation time.
func (l Layer) Fixed() bool { return l.InputH > 0 }
