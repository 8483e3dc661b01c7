package main

// The 11 layers of dygen's suite, written from generated/suite.yaml:
// their geometry for the peers, and a constructor for dygen's generated
// layer. Setup checks the geometry against the generated package.

import (
	"github.com/dygen/dygen/bench/im2col"
	"github.com/dygen/dygen/generated/suite"
)

// forwarder is the generated layers' Forward.
type forwarder interface {
	Forward(dst, src []float32, n, h, w int) error
}

// suiteLayer is one layer of generated/suite.
type suiteLayer struct {
	Name, Desc string
	P          im2col.Params
	New        func(w, b, fw, fb []float32) (forwarder, error)
}

var layers = []suiteLayer{
	{Name: "Stem7x7", Desc: "stem 3→64 7x7/2 @224",
		P: im2col.Params{Cin: 3, Cout: 64, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, DH: 1, DW: 1, G: 1, K: 4, H: 224, W: 224},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewStem7x7(suite.Stem7x7Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv3x3C64", Desc: "3x3 64→64 @56",
		P: im2col.Params{Cin: 64, Cout: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, G: 1, K: 4, H: 56, W: 56},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv3x3C64(suite.Conv3x3C64Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv3x3C128", Desc: "3x3 128 @28",
		P: im2col.Params{Cin: 128, Cout: 128, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, G: 1, K: 4, H: 28, W: 28},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv3x3C128(suite.Conv3x3C128Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv3x3C256", Desc: "3x3 256 @14",
		P: im2col.Params{Cin: 256, Cout: 256, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, G: 1, K: 4, H: 14, W: 14},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv3x3C256(suite.Conv3x3C256Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv3x3C512", Desc: "3x3 512 @7",
		P: im2col.Params{Cin: 512, Cout: 512, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, G: 1, K: 4, H: 7, W: 7},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv3x3C512(suite.Conv3x3C512Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv3x3S2", Desc: "3x3/2 64→128 @56",
		P: im2col.Params{Cin: 64, Cout: 128, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1, G: 1, K: 4, H: 56, W: 56},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv3x3S2(suite.Conv3x3S2Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv1x1Reduce", Desc: "1x1 256→64 @56",
		P: im2col.Params{Cin: 256, Cout: 64, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0, DH: 1, DW: 1, G: 1, K: 4, H: 56, W: 56},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv1x1Reduce(suite.Conv1x1ReduceWeights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Conv1x1Expand", Desc: "1x1 64→256 @56",
		P: im2col.Params{Cin: 64, Cout: 256, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0, DH: 1, DW: 1, G: 1, K: 4, H: 56, W: 56},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewConv1x1Expand(suite.Conv1x1ExpandWeights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "DW3x3C144", Desc: "dw 3x3 144 @56",
		P: im2col.Params{Cin: 144, Cout: 144, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, G: 144, K: 4, H: 56, W: 56},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewDW3x3C144(suite.DW3x3C144Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "DW5x5S2C96", Desc: "dw 5x5/2 96 @28",
		P: im2col.Params{Cin: 96, Cout: 96, KH: 5, KW: 5, SH: 2, SW: 2, PH: 2, PW: 2, DH: 1, DW: 1, G: 96, K: 4, H: 28, W: 28},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewDW5x5S2C96(suite.DW5x5S2C96Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
	{Name: "Group1x1G3", Desc: "g3 1x1 240→60 @28",
		P: im2col.Params{Cin: 240, Cout: 60, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0, DH: 1, DW: 1, G: 3, K: 4, H: 28, W: 28},
		New: func(w, b, fw, fb []float32) (forwarder, error) {
			return suite.NewGroup1x1G3(suite.Group1x1G3Weights{Weight: w, Bias: b, FCWeight: fw, FCBias: fb})
		}},
}
