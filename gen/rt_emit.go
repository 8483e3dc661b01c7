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
	epi := newEpilogue(ctx, pl, true)
	for _, k := range r.Kernels {
		emitRTKernel(ctx, pl, k, ISAAVX2)
	}
	if r.FuseName != "" {
		emitFuseKernel(ctx, pl, r.FuseName)
	}
	emitSumKernel(ctx, r.SumName)
	if r.GatherName != "" {
		emitGather2Kernel(ctx, r.GatherName)
	}
	if r.PackName != "" && !r.DirectIn {
		emitPackRTKernel(ctx, pl)
	}
	if r.CopyName != "" {
		emitCopyRTKernel(ctx, pl, r.CopyName, epi)
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
func emitRTKernel(ctx *build.Context, pl *Plan, k AsmKernel, isa *VecISA) {
	r := pl.RT
	ostride, tmp, rows, cstride := reg.R10, reg.R11, reg.R12, reg.R13
	row := -1 // the row whose offset tmp holds, as the taps are emitted
	emitConvKernel(ctx, pl, k, convKernel{
		sig:    rtSignature,
		doc:    fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels per pixel block%s, for any input size.", isa.kernelName(k.Name), k.M, k.P, isa.blockedAs(k.M, r.MemFMA)),
		memFMA: r.MemFMA,
		setup: func() {
			ctx.Load(ctx.Param("rows").Base(), rows)
			ctx.Load(ctx.Param("ops"), ostride)
			ctx.SHLQ(operand.U8(2), ostride)
			ctx.Load(ctx.Param("ps"), cstride)
			ctx.SHLQ(operand.U8(2), cstride)
		},
		tap: func(t int) operand.Mem {
			if t == 0 || r.TapRow[t] != row {
				row = r.TapRow[t]
				ctx.MOVQ(mem(rows, 8*row), tmp)
			}
			return operand.Mem{Base: kInp, Index: tmp, Scale: 1, Disp: 4 * r.TapCol[t]}
		},
		shiftOf: func(t0, t int) int {
			if r.TapRow[t] != r.TapRow[t0] {
				return -1
			}
			return max(-1, r.TapCol[t]-r.TapCol[t0])
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
	}, isa)
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
	evenOdd(ctx, reg.Y0, reg.Y1, reg.Y2, nil)
	ctx.VMOVUPS(reg.Y2, mem(dst, 0))
	ctx.ADDQ(operand.U32(64), src)
	ctx.ADDQ(operand.U32(32), dst)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	ctx.VZEROUPPER()
	ctx.RET()
}

// The pack's geometry table (RTPackGeom, int64s), computed per input size
// by the generated setSize: the row loop's bounds and strides, then per
// column phase pw the packed row's interior run.
const (
	pgHq           = iota // packed rows per phase plane
	pgWq                  // packed columns
	pgRowBytes            // 4·w: an input row
	pgPlaneBytes          // 4·hq·wq: a phase plane
	pgDstRowBytes         // 4·wq: a packed row
	pgDstChanBytes        // 4·SH·SW·hq·wq: a packed channel
	pgSrcChanBytes        // 4·h·w: an input channel
	// Column stride 2, when the two phases' runs read adjacent columns
	// over the same length (the interior): one pass reads 16 input floats
	// and writes 8 to each phase plane, as the fixed-size pack does. Used
	// when the padding is already in dst (fill 0).
	pgMerge    // 1 when the merged pass applies
	pgMC0      // 4·the first input column the pass reads
	pgMEven    // byte offset of the even columns' packed run in its phase plane row, from the phase-0 plane
	pgMOdd     // the same for the odd columns
	pgMN8      // groups of 8 packed floats per phase
	pgMLastSrc // the last, overlapping window's byte offset from the first column read, −1: none
	pgMLastRel // its stores' offset from where the groups ended, in bytes
	pgPhase    // per column phase, pgPhaseLen entries:
)

// Per column phase: the zero columns before the run, the run's floats
// copied 8 at a time (a multiple of 8 whose reads stay in the row), the
// rest of the run copied one at a time, the run's first input column in
// bytes, the zero columns after the run; then the run's last 8 floats as
// one vector that overlaps the ones before (instead of the rest, for runs
// of 9 or more): its input window's byte offset in the row (−1: none),
// its store's byte offset from the end of the 8-at-a-time part, and the
// bytes from there to the run's end.
const (
	pgJ0 = iota
	pgN8
	pgNRest
	pgC0Bytes
	pgNTail
	pgLastSrc
	pgLastDst
	pgLastAdv
	pgPhaseLen
)

// RTPackGeomLen is the length of the pack's geometry table for column
// stride sw.
func RTPackGeomLen(sw int) int { return pgPhase + sw*pgPhaseLen }

// emitPackRTKernel emits PackName(dst, x []float32, rowIdx []int32, g
// []int, n, fill int): the phase planes of n zero-padded input channels,
// each packed row being zeros, or zeros then the run of input columns c0,
// c0+SW, … then zeros (the geometry g, see pg*). With fill 0 the zeros are
// not written: dst holds them from an earlier call at this size. The phase loops are
// unrolled (SH and SW are the layer's); rows and channels are run-time
// loops. The Go side checks every length first.
//
//	DI dst channel, SI x channel, CX channels left, R12 rowIdx, R13 g,
//	R8 packed row i, R9 input row (−1: zeros), R10 dst pointer, BX src
//	pointer, R11 counts, AX scratch, DX fill; Y15/X15 zeros, Y0–Y2 data.
func emitPackRTKernel(ctx *build.Context, pl *Plan) {
	p, r := pl.P, pl.RT
	name := r.PackName
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr("func(dst, x []float32, rowIdx []int32, g []int, n, fill int)")
	ctx.Doc(name + " packs n zero-padded input channels into their phase planes, as the geometry g says.")
	dst, x, n := reg.RDI, reg.RSI, reg.RCX
	rowIdx, g, i, ry, d, src, cnt, tmp := reg.R12, reg.R13, reg.R8, reg.R9, reg.R10, reg.RBX, reg.R11, reg.RAX
	ctx.Load(ctx.Param("dst").Base(), dst)
	ctx.Load(ctx.Param("x").Base(), x)
	ctx.Load(ctx.Param("rowIdx").Base(), rowIdx)
	ctx.Load(ctx.Param("g").Base(), g)
	ctx.Load(ctx.Param("n"), n)
	fill := reg.RDX
	ctx.Load(ctx.Param("fill"), fill)
	gm := func(k int) operand.Mem { return mem(g, 8*k) }
	labels := 0
	label := func(what string) string {
		labels++
		return fmt.Sprintf("%s%d", what, labels)
	}
	// zero writes cnt zeros at d (unless fill is 0: they are there from
	// an earlier call), advancing d; cnt ends at 0.
	zero := func() {
		vec, sc, scLoop, end, write := label("zvec"), label("zsc"), label("zscl"), label("zend"), label("zw")
		ctx.TESTQ(fill, fill)
		ctx.JNZ(operand.LabelRef(write))
		ctx.LEAQ(operand.Mem{Base: d, Index: cnt, Scale: 4}, d)
		ctx.JMP(operand.LabelRef(end))
		ctx.Label(write)
		ctx.CMPQ(cnt, operand.U8(8))
		ctx.JL(operand.LabelRef(sc))
		ctx.Label(vec)
		ctx.VMOVUPS(reg.Y15, mem(d, 0))
		ctx.ADDQ(operand.U8(32), d)
		ctx.SUBQ(operand.U8(8), cnt)
		ctx.CMPQ(cnt, operand.U8(8))
		ctx.JGE(operand.LabelRef(vec))
		ctx.Label(sc)
		ctx.TESTQ(cnt, cnt)
		ctx.JZ(operand.LabelRef(end))
		ctx.Label(scLoop)
		ctx.VMOVSS(reg.X15, mem(d, 0))
		ctx.ADDQ(operand.U8(4), d)
		ctx.DECQ(cnt)
		ctx.JNZ(operand.LabelRef(scLoop))
		ctx.Label(end)
	}
	ctx.VXORPS(reg.Y15, reg.Y15, reg.Y15)
	ctx.TESTQ(n, n)
	ctx.JZ(operand.LabelRef("done"))
	ctx.Label("channel")
	for ph := 0; ph < p.SH; ph++ {
		rows := label("rows")
		ctx.XORQ(i, i)
		ctx.Label(rows)
		// ry = rowIdx[ph·hq + i]
		ctx.MOVQ(i, tmp)
		if ph > 0 {
			ctx.MOVQ(gm(pgHq), src)
			ctx.IMUL3Q(operand.Imm(uint64(ph)), src, src)
			ctx.ADDQ(src, tmp)
		}
		ctx.MOVLQSX(operand.Mem{Base: rowIdx, Index: tmp, Scale: 4}, ry)
		nextRow := label("nextrow")
		if p.SW == 2 {
			perPhase, mEnd, mLoop := label("perphase"), label("mend"), label("mloop")
			ctx.TESTQ(fill, fill)
			ctx.JNZ(operand.LabelRef(perPhase))
			ctx.CMPQ(gm(pgMerge), operand.U8(0))
			ctx.JE(operand.LabelRef(perPhase))
			ctx.TESTQ(ry, ry)
			ctx.JS(operand.LabelRef(nextRow)) // a padding row: its zeros are there
			// d, tmp = the even and odd columns' runs in this row
			ctx.MOVQ(i, d)
			ctx.IMULQ(gm(pgDstRowBytes), d)
			ctx.ADDQ(dst, d)
			if ph > 0 {
				ctx.MOVQ(gm(pgPlaneBytes), tmp)
				ctx.IMUL3Q(operand.Imm(uint64(2*ph)), tmp, tmp)
				ctx.ADDQ(tmp, d)
			}
			ctx.MOVQ(d, tmp)
			ctx.ADDQ(gm(pgMEven), d)
			ctx.ADDQ(gm(pgMOdd), tmp)
			// src = x + ry·row bytes + the first column read
			ctx.MOVQ(ry, src)
			ctx.IMULQ(gm(pgRowBytes), src)
			ctx.ADDQ(x, src)
			ctx.ADDQ(gm(pgMC0), src)
			split := func() {
				ctx.VMOVUPS(mem(src, 0), reg.Y0)
				ctx.VMOVUPS(mem(src, 32), reg.Y1)
				evenOdd(ctx, reg.Y0, reg.Y1, reg.Y2, reg.Y3)
				ctx.VMOVUPS(reg.Y2, mem(d, 0))
				ctx.VMOVUPS(reg.Y3, mem(tmp, 0))
			}
			ctx.MOVQ(gm(pgMN8), cnt)
			ctx.TESTQ(cnt, cnt)
			ctx.JZ(operand.LabelRef(mEnd))
			ctx.Label(mLoop)
			split()
			ctx.ADDQ(operand.U8(64), src)
			ctx.ADDQ(operand.U8(32), d)
			ctx.ADDQ(operand.U8(32), tmp)
			ctx.DECQ(cnt)
			ctx.JNZ(operand.LabelRef(mLoop))
			ctx.Label(mEnd)
			ctx.MOVQ(gm(pgMLastSrc), cnt)
			ctx.TESTQ(cnt, cnt)
			ctx.JS(operand.LabelRef(nextRow))
			ctx.MOVQ(ry, src)
			ctx.IMULQ(gm(pgRowBytes), src)
			ctx.ADDQ(x, src)
			ctx.ADDQ(gm(pgMC0), src)
			ctx.ADDQ(cnt, src)
			ctx.MOVQ(gm(pgMLastRel), cnt)
			ctx.ADDQ(cnt, d)
			ctx.ADDQ(cnt, tmp)
			split()
			ctx.JMP(operand.LabelRef(nextRow))
			ctx.Label(perPhase)
		}
		for pw := 0; pw < p.SW; pw++ {
			ph0 := pgPhase + pw*pgPhaseLen
			zeros, next := label("zrow"), label("next")
			// d = dst + (ph·SW + pw)·plane bytes + i·row bytes
			ctx.MOVQ(i, d)
			ctx.IMULQ(gm(pgDstRowBytes), d)
			ctx.ADDQ(dst, d)
			if k := ph*p.SW + pw; k > 0 {
				ctx.MOVQ(gm(pgPlaneBytes), tmp)
				ctx.IMUL3Q(operand.Imm(uint64(k)), tmp, tmp)
				ctx.ADDQ(tmp, d)
			}
			ctx.TESTQ(ry, ry)
			ctx.JS(operand.LabelRef(zeros))
			// src = x + ry·row bytes + c0 bytes
			ctx.MOVQ(ry, src)
			ctx.IMULQ(gm(pgRowBytes), src)
			ctx.ADDQ(x, src)
			ctx.ADDQ(gm(ph0+pgC0Bytes), src)
			ctx.MOVQ(gm(ph0+pgJ0), cnt)
			zero()
			vec, vecEnd, rest, restEnd := label("run"), label("runend"), label("rest"), label("restend")
			ctx.MOVQ(gm(ph0+pgN8), cnt)
			ctx.SHRQ(operand.U8(3), cnt)
			ctx.JZ(operand.LabelRef(vecEnd))
			ctx.Label(vec)
			if p.SW == 1 {
				ctx.VMOVUPS(mem(src, 0), reg.Y0)
				ctx.VMOVUPS(reg.Y0, mem(d, 0))
				ctx.ADDQ(operand.U8(32), src)
			} else {
				ctx.VMOVUPS(mem(src, 0), reg.Y0)
				ctx.VMOVUPS(mem(src, 32), reg.Y1)
				evenOdd(ctx, reg.Y0, reg.Y1, reg.Y2, nil)
				ctx.VMOVUPS(reg.Y2, mem(d, 0))
				ctx.ADDQ(operand.U8(64), src)
			}
			ctx.ADDQ(operand.U8(32), d)
			ctx.DECQ(cnt)
			ctx.JNZ(operand.LabelRef(vec))
			ctx.Label(vecEnd)
			// The run's last vector, overlapping: from the window at
			// pgLastSrc of the input row (stride 2: its odd floats).
			noLast := label("nolast")
			ctx.MOVQ(gm(ph0+pgLastSrc), tmp)
			ctx.TESTQ(tmp, tmp)
			ctx.JS(operand.LabelRef(noLast))
			ctx.MOVQ(ry, src)
			ctx.IMULQ(gm(pgRowBytes), src)
			ctx.ADDQ(x, src)
			ctx.ADDQ(tmp, src)
			ctx.MOVQ(gm(ph0+pgLastDst), tmp)
			ctx.ADDQ(d, tmp)
			if p.SW == 1 {
				ctx.VMOVUPS(mem(src, 0), reg.Y0)
				ctx.VMOVUPS(reg.Y0, mem(tmp, 0))
			} else {
				ctx.VMOVUPS(mem(src, 0), reg.Y0)
				ctx.VMOVUPS(mem(src, 32), reg.Y1)
				evenOdd(ctx, reg.Y0, reg.Y1, nil, reg.Y2)
				ctx.VMOVUPS(reg.Y2, mem(tmp, 0))
			}
			ctx.ADDQ(gm(ph0+pgLastAdv), d)
			ctx.Label(noLast)
			ctx.MOVQ(gm(ph0+pgNRest), cnt)
			ctx.TESTQ(cnt, cnt)
			ctx.JZ(operand.LabelRef(restEnd))
			ctx.Label(rest)
			ctx.VMOVSS(mem(src, 0), reg.X0)
			ctx.VMOVSS(reg.X0, mem(d, 0))
			ctx.ADDQ(operand.U8(uint8(4*p.SW)), src)
			ctx.ADDQ(operand.U8(4), d)
			ctx.DECQ(cnt)
			ctx.JNZ(operand.LabelRef(rest))
			ctx.Label(restEnd)
			ctx.MOVQ(gm(ph0+pgNTail), cnt)
			zero()
			ctx.JMP(operand.LabelRef(next))
			ctx.Label(zeros)
			ctx.TESTQ(fill, fill)
			ctx.JZ(operand.LabelRef(next))
			ctx.MOVQ(gm(pgWq), cnt)
			zero()
			ctx.Label(next)
		}
		ctx.Label(nextRow)
		ctx.INCQ(i)
		ctx.CMPQ(i, gm(pgHq))
		ctx.JL(operand.LabelRef(rows))
	}
	ctx.ADDQ(gm(pgDstChanBytes), dst)
	ctx.ADDQ(gm(pgSrcChanBytes), x)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("channel"))
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// emitCopyRTKernel emits name(y, out []float32, [res []float32,] n, ho,
// wo, wq, ops int): n channels of ho rows of wo floats from the kernels'
// rows of wq floats (channel stride ops) into y's rows of wo (channel
// stride ho·wo): 8 floats at a time, the last vector of a row overlapping
// the one before when wo ≥ 8, one float at a time when wo < 8. With an
// epilogue (epi) each output is finished on the way: the residual (res,
// laid out as y, possibly y itself) added, then the activation; a row's
// last, overlapping vector is then loaded before the row's stores and
// stored after them, so no residual float is read after it was
// overwritten. The Go side checks the lengths.
//
//	DI y, SI out channel, DX res, CX channels left, R8 out row, R9 rows
//	left, R10 vectors left, R11 wo, R12 wq bytes, R13 ops bytes, AX the
//	offset; Y0 data, Y1–Y3 the epilogue's scratch, Y5 the last vector.
func emitCopyRTKernel(ctx *build.Context, pl *Plan, name string, epi *epilogue) {
	residual := epi != nil && pl.Residual
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	if residual {
		ctx.SignatureExpr("func(y, out, res []float32, n, ho, wo, wq, ops int)")
	} else {
		ctx.SignatureExpr("func(y, out []float32, n, ho, wo, wq, ops int)")
	}
	if epi != nil {
		ctx.Doc(fmt.Sprintf("%s copies n output channels from the kernels' rows of wq floats to rows of wo, finishing each output (%s).", name, epi.what()))
	} else {
		ctx.Doc(name + " copies n output channels from the kernels' rows of wq floats to rows of wo.")
	}
	y, out, res, n, orow, rows, vecs, wo, wqb, opsb, t := reg.RDI, reg.RSI, reg.RDX, reg.RCX, reg.R8, reg.R9, reg.R10, reg.R11, reg.R12, reg.R13, reg.RAX
	ctx.Load(ctx.Param("y").Base(), y)
	ctx.Load(ctx.Param("out").Base(), out)
	if residual {
		ctx.Load(ctx.Param("res").Base(), res)
	}
	ctx.Load(ctx.Param("n"), n)
	ctx.Load(ctx.Param("wo"), wo)
	ctx.Load(ctx.Param("wq"), wqb)
	ctx.SHLQ(operand.U8(2), wqb)
	ctx.Load(ctx.Param("ops"), opsb)
	ctx.SHLQ(operand.U8(2), opsb)
	free := []reg.VecPhysical{reg.Y1, reg.Y2, reg.Y3}
	// load puts out (+ res) at the row offset that at gives into v.
	load := func(v reg.VecPhysical, at func(base reg.GPPhysical) operand.Mem) {
		ctx.VMOVUPS(at(orow), v)
		if residual {
			ctx.VADDPS(at(res), v, v)
		}
	}
	ctx.TESTQ(n, n)
	ctx.JZ(operand.LabelRef("done"))
	ctx.Label("channel")
	ctx.MOVQ(out, orow)
	ctx.Load(ctx.Param("ho"), rows)
	ctx.Label("row")
	ctx.CMPQ(wo, operand.U8(8))
	ctx.JL(operand.LabelRef("short"))
	// t = 4·wo: the last vector is at t − 32.
	ctx.LEAQ(operand.Mem{Base: wo, Index: wo, Scale: 1}, t)
	ctx.SHLQ(operand.U8(1), t)
	last := func(base reg.GPPhysical) operand.Mem { return operand.Mem{Base: base, Index: t, Scale: 1, Disp: -32} }
	if residual {
		load(reg.Y5, last)
	}
	// 8 at a time: t walks the row's offset in bytes.
	ctx.MOVQ(wo, vecs)
	ctx.SHRQ(operand.U8(3), vecs)
	ctx.XORQ(t, t)
	ctx.Label("vec")
	at := func(base reg.GPPhysical) operand.Mem { return operand.Mem{Base: base, Index: t, Scale: 1} }
	load(reg.Y0, at)
	if epi != nil {
		epi.apply(ctx, reg.Y0, free)
	}
	ctx.VMOVUPS(reg.Y0, at(y))
	ctx.ADDQ(operand.U8(32), t)
	ctx.DECQ(vecs)
	ctx.JNZ(operand.LabelRef("vec"))
	// The last 8 floats of the row (overlapping, or the same again).
	ctx.LEAQ(operand.Mem{Base: wo, Index: wo, Scale: 1}, t)
	ctx.SHLQ(operand.U8(1), t)
	if !residual {
		load(reg.Y5, last)
	}
	if epi != nil {
		epi.apply(ctx, reg.Y5, free)
	}
	ctx.VMOVUPS(reg.Y5, last(y))
	ctx.JMP(operand.LabelRef("rowdone"))
	ctx.Label("short")
	ctx.XORQ(t, t)
	ctx.Label("scalar")
	one := func(base reg.GPPhysical) operand.Mem { return operand.Mem{Base: base, Index: t, Scale: 4} }
	ctx.VMOVSS(one(orow), reg.X0)
	if residual {
		ctx.VMOVSS(one(res), reg.X1)
		ctx.VADDPS(reg.Y1, reg.Y0, reg.Y0)
	}
	if epi != nil {
		epi.apply(ctx, reg.Y0, free)
	}
	ctx.VMOVSS(reg.X0, one(y))
	ctx.INCQ(t)
	ctx.CMPQ(t, wo)
	ctx.JL(operand.LabelRef("scalar"))
	ctx.Label("rowdone")
	ctx.LEAQ(operand.Mem{Base: y, Index: wo, Scale: 4}, y)
	if residual {
		ctx.LEAQ(operand.Mem{Base: res, Index: wo, Scale: 4}, res)
	}
	ctx.ADDQ(wqb, orow)
	ctx.DECQ(rows)
	ctx.JNZ(operand.LabelRef("row"))
	ctx.ADDQ(opsb, out)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("channel"))
	ctx.Label("done")
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
