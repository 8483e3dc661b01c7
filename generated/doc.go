// Package generated holds dygen's checked-in output: the standard layer
// suite (suite.yaml → ./suite), which the examples and benchmarks use, and
// the layers of the PyTorch golden cases (golden.yaml → ./goldencases), which
// run those cases through the generated API. The test in this folder
// regenerates both and fails on any difference from what is checked in.
package generated

//go:generate go run ../cmd/dygen generate -spec suite.yaml -out suite
//go:generate go run ../cmd/dygen generate -spec golden.yaml -out goldencases
//go:generate go run ../cmd/dygen generate -spec golden-family.yaml -out familycases
