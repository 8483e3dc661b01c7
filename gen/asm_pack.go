package gen

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// asmPackSignature: dst holds n packed channels ([SH][SW][Hq][Wq] each), x
// the n input channels they are packed from ([H][W] each).
const asmPackSignature = "func(dst, x []float32, n int)"

// planAsmPack decides whether the pack of a zero-padded layer of column
// stride 1 or 2 runs in assembly, and fills PackName and RowRuns; and
// whether the copy out does (CopyName: rows of Wo ≥ 8). For stride 2 the
// assembly reads 16 input floats at a time and splits them into the even
// and the odd columns, one per column phase, so both phases' runs must take
// adjacent input columns (C0 and C0+1) over the same N ≥ 8 packed columns;
// for stride 1 it copies each row's run 8 floats at a time.
func planAsmPack(a *AsmPlan, pl *Plan) {
	p := pl.P
	// With an epilogue the copy out also finishes the outputs.
	if pl.Wo >= 8 && !a.DirectOut {
		a.CopyName = lowerFirst(pl.Name) + "CopyOut"
		a.CopyNT = pl.Wo%8 == 0
	}
	if a.DirectIn || p.SW > 2 || a.ColRuns == nil || a.RunN < 8 || a.Wq < 8 {
		return
	}
	if p.SW == 2 {
		c0, c1 := a.ColRuns[0].C0, a.ColRuns[1].C0
		if c0 != c1+1 && c1 != c0+1 {
			return
		}
		// The last 16-float load of a row ends at min(C0)+2N, inside the row.
		if min(c0, c1)+2*a.RunN > pl.W {
			return
		}
	}
	rows := colRuns(a.RowIdx, p.SH, a.Hq)
	if rows == nil {
		return
	}
	a.RowRuns = rows
	a.PackName = lowerFirst(pl.Name) + "PackRows"
}

// emitCopyKernel emits the copy of n output channels from the kernel's
// flat rows of Wq (channel stride OPS) to NCHW rows of Wo, 8 floats at a
// time, the last vector of a row overlapping the one before. With an
// epilogue (epi) each vector is finished on the way: the residual (res,
// laid out as y, possibly y itself) added, then the activation.
//
//	DI y channel, SI out channel, DX res channel, CX channels left, R8 y
//	row, R9 out row, R11 res row, R10 rows left; Y0 the data, Y1–Y3 the
//	epilogue's scratch, Y5 a residual row's last vector.
//
// With nt (rows of Wo a multiple of 8, y 32-byte aligned: checked in Go) the
// stores are non-temporal, for outputs larger than the caches: they skip
// the read for ownership of y's lines.
func emitCopyKernel(ctx *build.Context, pl *Plan, nt bool, epi *epilogue) {
	a := pl.Asm
	name := a.CopyName
	if nt {
		name += "NT"
	}
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(copySignature(pl))
	if epi != nil {
		ctx.Doc(fmt.Sprintf("%s copies n output channels from the kernel's rows of Wq to rows of Wo, finishing each output (%s).", name, epi.what()))
	} else {
		ctx.Doc(name + " copies n output channels from the kernel's rows of Wq to rows of Wo.")
	}
	y, out, res, n := reg.RDI, reg.RSI, reg.RDX, reg.RCX
	yrow, orow, rows, rrow := reg.R8, reg.R9, reg.R10, reg.R11
	ctx.Load(ctx.Param("y").Base(), y)
	ctx.Load(ctx.Param("out").Base(), out)
	residual := epi != nil && pl.Residual
	if residual {
		ctx.Load(ctx.Param("res").Base(), res)
	}
	ctx.Load(ctx.Param("n"), n)
	wo := pl.Wo
	var chunks []int
	for j := 0; j+8 <= wo; j += 8 {
		chunks = append(chunks, j)
	}
	// The last vector of a row overlaps the one before. With a residual,
	// which may be y itself, that vector (out + res) is loaded before the
	// row's first store and finished and stored after the others, so no
	// residual float is read after it was overwritten. Computing an output
	// twice from out gives the same bits.
	tail := wo % 8
	early := tail != 0 && residual
	if tail != 0 && !early {
		chunks = append(chunks, wo-8)
	}
	ys := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3}
	store := func(v reg.VecPhysical, m operand.Mem) {
		if nt {
			ctx.VMOVNTPS(v, m)
		} else {
			ctx.VMOVUPS(v, m)
		}
	}
	ctx.Label("channel")
	ctx.MOVQ(y, yrow)
	ctx.MOVQ(out, orow)
	if residual {
		ctx.MOVQ(res, rrow)
	}
	ctx.MOVQ(operand.U32(pl.Ho), rows)
	ctx.Label("row")
	if early {
		ctx.VMOVUPS(mem(orow, 4*(wo-8)), reg.Y5)
		ctx.VADDPS(mem(rrow, 4*(wo-8)), reg.Y5, reg.Y5)
	}
	for i, j := range chunks {
		if epi == nil {
			ctx.VMOVUPS(mem(orow, 4*j), ys[i%4])
			store(ys[i%4], mem(yrow, 4*j))
			continue
		}
		ctx.VMOVUPS(mem(orow, 4*j), reg.Y0)
		if residual {
			ctx.VADDPS(mem(rrow, 4*j), reg.Y0, reg.Y0)
		}
		epi.apply(ctx, reg.Y0, []reg.VecPhysical{reg.Y1, reg.Y2, reg.Y3})
		store(reg.Y0, mem(yrow, 4*j))
	}
	if early {
		epi.apply(ctx, reg.Y5, []reg.VecPhysical{reg.Y1, reg.Y2, reg.Y3})
		store(reg.Y5, mem(yrow, 4*(wo-8)))
	}
	ctx.ADDQ(operand.U32(4*a.Wq), orow)
	ctx.ADDQ(operand.U32(4*wo), yrow)
	if residual {
		ctx.ADDQ(operand.U32(4*wo), rrow)
	}
	ctx.DECQ(rows)
	ctx.JNZ(operand.LabelRef("row"))
	ctx.ADDQ(operand.U32(4*a.OPS), out)
	ctx.ADDQ(operand.U32(4*pl.Ho*wo), y)
	if residual {
		ctx.ADDQ(operand.U32(4*pl.Ho*wo), res)
	}
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("channel"))
	if nt {
		ctx.SFENCE()
	}
	ctx.VZEROUPPER()
	ctx.RET()
}

// copySignature is the copy out's Go signature: with a residual it reads
// res, laid out as y.
func copySignature(pl *Plan) string {
	if pl.Epi && pl.Residual {
		return "func(y, out, res []float32, n int)"
	}
	return "func(y, out []float32, n int)"
}

// evenOdd emits the split of the 16 floats in lo and hi (in that order)
// into their even-indexed floats (into even) and their odd-indexed floats
// (into odd), each in order: VSHUFPS keeps the even (0x88) or odd (0xDD)
// floats of each 128-bit lane pair, VPERMPD (0xD8) puts the 64-bit halves
// in order. A nil even or odd skips that half. Every stride-2 pack uses it.
func evenOdd(ctx *build.Context, lo, hi, even, odd reg.VecPhysical) {
	// Both shuffles first, then both permutes: independent work side by side.
	if even != nil {
		ctx.VSHUFPS(operand.U8(0x88), hi, lo, even)
	}
	if odd != nil {
		ctx.VSHUFPS(operand.U8(0xDD), hi, lo, odd)
	}
	if even != nil {
		ctx.VPERMPD(operand.U8(0xD8), even, even)
	}
	if odd != nil {
		ctx.VPERMPD(operand.U8(0xD8), odd, odd)
	}
}

// emitPackKernel emits the pack of n input channels into phase planes for
// a layer planAsmPack accepted, every offset a constant of the layer.
//
//	DI dst channel, SI x channel, CX channels left, R8 packed row (phase
//	pw = 0), R9 input row, R10 rows left; Y0–Y1 loads, Y2–Y3 even and odd
//	columns, Y15 zeros.
func emitPackKernel(ctx *build.Context, pl *Plan) {
	a, p := pl.Asm, pl.P
	ctx.Function(a.PackName)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(asmPackSignature)
	ctx.Doc(a.PackName + " packs n input channels into their stride-phase planes (zero padding).")
	dst, x, n := reg.RDI, reg.RSI, reg.RCX
	drow, xrow, rows := reg.R8, reg.R9, reg.R10
	ctx.Load(ctx.Param("dst").Base(), dst)
	ctx.Load(ctx.Param("x").Base(), x)
	ctx.Load(ctx.Param("n"), n)
	zero := reg.Y15
	ctx.VXORPS(zero, zero, zero)
	plane := a.Hq * a.Wq // floats per phase plane
	base := a.ColRuns[0].C0
	evenPw, oddPw := 0, 1
	if p.SW == 2 {
		base = min(base, a.ColRuns[1].C0)
		if a.ColRuns[1].C0 == base {
			evenPw, oddPw = 1, 0
		}
	}
	// chunks of 8 packed columns of a run, the last one overlapping.
	var chunks []int
	for j := 0; j+8 <= a.RunN; j += 8 {
		chunks = append(chunks, j)
	}
	if a.RunN%8 != 0 {
		chunks = append(chunks, a.RunN-8)
	}
	zeroRow := func(r reg.Register, off int) { // Wq zeros at r + 4·off
		for j := 0; j+8 <= a.Wq; j += 8 {
			ctx.VMOVUPS(zero, mem(r, 4*(off+j)))
		}
		if a.Wq%8 != 0 {
			ctx.VMOVUPS(zero, mem(r, 4*(off+a.Wq-8)))
		}
	}
	ctx.Label("channel")
	for ph := 0; ph < p.SH; ph++ {
		rr := a.RowRuns[ph]
		for i := 0; i < a.Hq; i++ {
			if i >= rr.J0 && i < rr.J0+rr.N {
				continue
			}
			for pw := 0; pw < p.SW; pw++ {
				zeroRow(dst, ((ph*p.SW+pw)*a.Hq+i)*a.Wq)
			}
		}
		if rr.N == 0 {
			continue
		}
		ctx.LEAQ(mem(dst, 4*((ph*p.SW)*a.Hq+rr.J0)*a.Wq), drow)
		ctx.LEAQ(mem(x, 4*rr.C0*pl.W), xrow)
		ctx.MOVQ(operand.U32(rr.N), rows)
		label := fmt.Sprintf("rows%d", ph)
		ctx.Label(label)
		for _, j := range chunks {
			if p.SW == 1 {
				ctx.VMOVUPS(mem(xrow, 4*(base+j)), reg.Y0)
				ctx.VMOVUPS(reg.Y0, mem(drow, 4*(a.ColRuns[0].J0+j)))
				continue
			}
			ctx.VMOVUPS(mem(xrow, 4*(base+2*j)), reg.Y0)
			ctx.VMOVUPS(mem(xrow, 4*(base+2*j+8)), reg.Y1)
			evenOdd(ctx, reg.Y0, reg.Y1, reg.Y2, reg.Y3)
			ctx.VMOVUPS(reg.Y2, mem(drow, 4*(evenPw*plane+a.ColRuns[evenPw].J0+j)))
			ctx.VMOVUPS(reg.Y3, mem(drow, 4*(oddPw*plane+a.ColRuns[oddPw].J0+j)))
		}
		for pw, r := range a.ColRuns {
			for t := 0; t < a.Wq; t++ {
				if t < r.J0 || t >= r.J0+r.N {
					ctx.MOVL(operand.U32(0), mem(drow, 4*(pw*plane+t)))
				}
			}
		}
		ctx.ADDQ(operand.U32(4*a.Wq), drow)
		ctx.ADDQ(operand.U32(4*p.SH*pl.W), xrow)
		ctx.DECQ(rows)
		ctx.JNZ(operand.LabelRef(label))
	}
	ctx.ADDQ(operand.U32(4*a.PS), dst)
	ctx.ADDQ(operand.U32(4*pl.H*pl.W), x)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("channel"))
	ctx.VZEROUPPER()
	ctx.RET()
}
