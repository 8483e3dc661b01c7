package gen

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
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
	epi := newEpilogue(ctx, pl)
	for _, k := range r.Kernels {
		emitRTKernel(ctx, pl, k)
	}
	if r.FuseName != "" {
		emitFuseKernel(ctx, pl, r.FuseName)
	}
	emitSumKernel(ctx, r.SumName)
	if r.GatherName != "" {
		emitGather2Kernel(ctx, r.GatherName)
	}
	if epi != nil {
		emitEpiKernel(ctx, pl, epi)
	}
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

// emitGather2Kernel emits the pack's gather for a column stride of 2:
// dst[j] = src[2j] for j < n, n a positive multiple of 8, reading src[:2n]
// 16 floats at a time (VSHUFPS keeps the even floats of each lane pair,
// VPERMPD puts the lanes in order, as the fixed-size pack does).
//
//	DI dst, SI src, CX groups of 8 left; Y0, Y1 the input, Y2 the result.
func emitGather2Kernel(ctx *build.Context, name string) {
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr("func(dst, src []float32, n int)")
	ctx.Doc(name + " writes src[2j] into dst[j] for j < n (n a positive multiple of 8).")
	dst, src, n := reg.RDI, reg.RSI, reg.RCX
	ctx.Load(ctx.Param("dst").Base(), dst)
	ctx.Load(ctx.Param("src").Base(), src)
	ctx.Load(ctx.Param("n"), n)
	ctx.SHRQ(operand.U8(3), n)
	ctx.Label("loop")
	ctx.VMOVUPS(mem(src, 0), reg.Y0)
	ctx.VMOVUPS(mem(src, 32), reg.Y1)
	ctx.VSHUFPS(operand.U8(0x88), reg.Y1, reg.Y0, reg.Y2)
	ctx.VPERMPD(operand.U8(0xd8), reg.Y2, reg.Y2)
	ctx.VMOVUPS(reg.Y2, mem(dst, 0))
	ctx.ADDQ(operand.U32(64), src)
	ctx.ADDQ(operand.U32(32), dst)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	ctx.VZEROUPPER()
	ctx.RET()
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
