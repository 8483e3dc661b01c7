// Package templates holds the text templates for the parts of a generated
// package that are scaffolding rather than computation: the layer API
// (weights, constructors, loader, Forward's checks and driver, routing), the
// package's support file and the generated tests. The computed kernels are
// built with jennifer in package gen.
package templates

import "embed"

// FS holds the *.tmpl files.
//
//go:embed *.tmpl
var FS embed.FS
