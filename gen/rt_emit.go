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
	for _, k := range r.Kernels {
		emitRTKernel(ctx, pl, k)
	}
	if r.FuseName != "" {
		emitFuseKernel(ctx, pl, r.FuseName)
	}
	emitSumKernel(ctx, r.SumName)
	return renderAsm(ctx, pkg, pl.Name, "run-time-size assembly")
}

// emitRTKernel emits one M×P run-time-size micro-kernel: emitAsmKernel's
// loop, with each tap read at its row's offset (loaded from rows when the
// row changes) plus its constant column offset, and the channel strides
// taken from arguments.
//
//	DI out, SI in (pixel block), DX w, R8 bias, CX pixel blocks left,
//	AX input channel pointer, BX weight pointer, R9 input channels left,
//	R10 output channel stride (bytes), R11 the row offset, then the output
//	channel pointer, R12 rows, R13 input channel stride (bytes).
//	Y[m·P+p] accumulators, Y[M·P+p] inputs, Y15 the broadcast weight.
func emitRTKernel(ctx *build.Context, pl *Plan, k AsmKernel) {
	r, p := pl.RT, pl.P
	m, pv := k.M, k.P
	ctx.Function(k.Name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(rtSignature)
	ctx.Doc(fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels per pixel block, for any input size.", k.Name, m, pv))

	out, in, w, bias := reg.RDI, reg.RSI, reg.RDX, reg.R8
	nblk, inp, wp, ci := reg.RCX, reg.RAX, reg.RBX, reg.R9
	ostride, tmp, rows, cstride := reg.R10, reg.R11, reg.R12, reg.R13
	ctx.Load(ctx.Param("out").Base(), out)
	ctx.Load(ctx.Param("in").Base(), in)
	ctx.Load(ctx.Param("w").Base(), w)
	ctx.Load(ctx.Param("bias").Base(), bias)
	ctx.Load(ctx.Param("rows").Base(), rows)
	ctx.Load(ctx.Param("nblk"), nblk)
	ctx.Load(ctx.Param("ops"), ostride)
	ctx.SHLQ(operand.U8(2), ostride)
	ctx.Load(ctx.Param("ps"), cstride)
	ctx.SHLQ(operand.U8(2), cstride)

	ys := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
	acc := func(i, j int) reg.VecPhysical { return ys[i*pv+j] }
	inReg := func(j int) reg.VecPhysical { return ys[m*pv+j] }
	wReg := reg.Y15
	if n := m*pv + 1; r.MemFMA && n > 16 || !r.MemFMA && n+pv > 16 {
		panic(fmt.Sprintf("dygen: %dx%d kernel needs more than 16 YMM registers (bug)", m, pv))
	}
	taps := p.KH * p.KW
	at := func(col, j int) operand.Mem {
		return operand.Mem{Base: inp, Index: tmp, Scale: 1, Disp: 4*col + 32*j}
	}

	ctx.Label("block")
	for i := 0; i < m; i++ {
		ctx.VBROADCASTSS(mem(bias, 4*i), acc(i, 0))
		for j := 1; j < pv; j++ {
			ctx.VMOVAPS(acc(i, 0), acc(i, j))
		}
	}
	ctx.MOVQ(in, inp)
	ctx.MOVQ(w, wp)
	if pl.CinG > 1 {
		ctx.MOVQ(operand.U32(pl.CinG), ci)
		ctx.Label("channel")
	}
	row := -1
	for t := 0; t < taps; t++ {
		if r.TapRow[t] != row {
			row = r.TapRow[t]
			ctx.MOVQ(mem(rows, 8*row), tmp)
		}
		col := r.TapCol[t]
		if !r.MemFMA {
			for j := 0; j < pv; j++ {
				ctx.VMOVUPS(at(col, j), inReg(j))
			}
		}
		for i := 0; i < m; i++ {
			ctx.VBROADCASTSS(mem(wp, 4*(t*m+i)), wReg)
			for j := 0; j < pv; j++ {
				if r.MemFMA {
					ctx.VFMADD231PS(at(col, j), wReg, acc(i, j))
				} else {
					ctx.VFMADD231PS(inReg(j), wReg, acc(i, j))
				}
			}
		}
	}
	if pl.CinG > 1 {
		ctx.ADDQ(cstride, inp)
		ctx.ADDQ(operand.U32(4*taps*m), wp)
		ctx.DECQ(ci)
		ctx.JNZ(operand.LabelRef("channel"))
	}
	ctx.MOVQ(out, tmp)
	for i := 0; i < m; i++ {
		if i > 0 {
			ctx.ADDQ(ostride, tmp)
		}
		for j := 0; j < pv; j++ {
			ctx.VMOVUPS(acc(i, j), mem(tmp, 32*j))
		}
	}
	ctx.ADDQ(operand.U32(32*pv), in)
	ctx.ADDQ(operand.U32(32*pv), out)
	ctx.DECQ(nblk)
	ctx.JNZ(operand.LabelRef("block"))
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
	goSide, err := execute("rt_amd64.go.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	generic, err := execute("asm_generic.go.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	f := d.Plan.File
	return []OutputFile{
		{f + "_amd64_dygen.s", s},
		{f + "_amd64_dygen.go", goSide},
		{f + "_generic_dygen.go", generic},
	}, nil
}
