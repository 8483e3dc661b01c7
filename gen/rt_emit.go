package gen

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// rtSignature is the Go signature of every run-time-size micro-kernel: as
// asmSignature, plus the byte offsets of the tap rows in a packed channel
// (RTPlan.Rows), the output channel stride ops and the packed input
// channel stride ps, in floats.
const rtSignature = "func(out, in, w, bias []float32, rows []int, nblk, ops, ps int)"

// emitRTAsm writes the assembly of a run-time-size layer: its micro-kernels,
// the fusion and the mean pool's channel sum.
func emitRTAsm(pkg string, pl *Plan) ([]byte, error) {
	r := pl.RT
	ctx := build.NewContext()
	ctx.ConstraintExpr(asmBuildConstraint)
	for _, k := range r.Kernels {
		emitRTKernel(ctx, pl, k)
	}
	if r.FuseName != "" {
		emitFuseKernel(ctx, pl, r.FuseName)
	}
	emitSumKernel(ctx, r.SumName)
	return renderAsm(ctx, pkg, pl.Name, "run-time-size assembly")
}

// emitRTKernel emits one M×P run-time-size micro-kernel: emitConvKernel's
// loop, with each tap read at its row's offset (loaded from rows when the
// row changes) plus its constant column offset, and the channel strides
// taken from arguments.
//
//	R10 output channel stride (bytes), R11 the row offset, then the output
//	channel pointer, R12 rows, R13 input channel stride (bytes).
func emitRTKernel(ctx *build.Context, pl *Plan, k AsmKernel) {
	r := pl.RT
	ostride, tmp, rows, cstride := reg.R10, reg.R11, reg.R12, reg.R13
	row := -1 // the row whose offset tmp holds, as the taps are emitted
	emitConvKernel(ctx, pl, k, convKernel{
		sig:    rtSignature,
		doc:    fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels per pixel block, for any input size.", k.Name, k.M, k.P),
		memFMA: r.MemFMA,
		setup: func() {
			ctx.Load(ctx.Param("rows").Base(), rows)
			ctx.Load(ctx.Param("ops"), ostride)
			ctx.SHLQ(operand.U8(2), ostride)
			ctx.Load(ctx.Param("ps"), cstride)
			ctx.SHLQ(operand.U8(2), cstride)
		},
		tap: func(t int) func(j int) operand.Mem {
			if t == 0 || r.TapRow[t] != row {
				row = r.TapRow[t]
				ctx.MOVQ(mem(rows, 8*row), tmp)
			}
			col := r.TapCol[t]
			return func(j int) operand.Mem {
				return operand.Mem{Base: kInp, Index: tmp, Scale: 1, Disp: 4*col + 32*j}
			}
		},
		channelEnd:    func() {},
		channelStride: cstride,
		outChannel: func(i int) operand.Mem {
			if i == 0 {
				ctx.MOVQ(kOut, tmp)
			} else {
				ctx.ADDQ(ostride, tmp)
			}
			return mem(tmp, 0)
		},
	})
}

// rtFiles returns a run-time-size layer's AVX2 backend files: the
// assembly, its Go side (amd64 without purego) and the fallback
// declarations for every other build.
func rtFiles(pkg string, d layerData) ([]OutputFile, error) {
	s, err := emitRTAsm(pkg, d.Plan)
	if err != nil {
		return nil, err
	}
	return backendFiles(d, s, "rt_amd64.go.tmpl")
}
