package gen

import (
	"fmt"
	"math"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/dygen/dygen/verify"
)

// epilogue is a layer's activation in AVX2: the code that finishes a
// vector of outputs (the residual already added), with its constants in a
// read-only table of the assembly file, each constant as a whole vector of
// 8 floats so that it can be an instruction's memory operand.
//
// Every activation keeps a NaN a NaN: the comparisons (VMAXPS, VMINPS)
// return their first Go operand when either is NaN, and that operand is
// always the value, never the constant.
type epilogue struct {
	act      string // verify.ActReLU, …
	consts   operand.Mem
	slot     map[int]int // constant (epiSix, …) → its vector's index in the table
	maskSlot int         // the tail masks' index, −1 when the table has none
}

// The epilogue's constants, in the order of the table.
const (
	epiSix = iota
	epiThree
	epiOne
	epiSign
	epiExpHi
	epiExpLo
	epiLog2e
	epiLn2Hi
	epiLn2Lo
	epiP0 // p0 … p5: Cephes' expf polynomial
	epiP1
	epiP2
	epiP3
	epiP4
	epiP5
	epi127
	epiConsts
)

// epiValues are the constants' bits.
var epiValues = [epiConsts]uint32{
	epiSix:   math.Float32bits(6),
	epiThree: math.Float32bits(3),
	epiOne:   math.Float32bits(1),
	epiSign:  0x80000000,
	// exp's argument is clamped to ±88, so that 2^n stays a normal float:
	// e^88 = 1.65e38; below −88 the result is 0 instead of at most 6e-39.
	epiExpHi: math.Float32bits(88),
	epiExpLo: math.Float32bits(-88),
	epiLog2e: math.Float32bits(1.44269504088896341),
	// x − n·ln2 in two steps (Cody and Waite): ln2 = 0.693359375 − 2.12194440e-4.
	epiLn2Hi: math.Float32bits(0.693359375),
	epiLn2Lo: math.Float32bits(-2.12194440e-4),
	epiP0:    math.Float32bits(1.9875691500e-4),
	epiP1:    math.Float32bits(1.3981999507e-3),
	epiP2:    math.Float32bits(8.3334519073e-3),
	epiP3:    math.Float32bits(4.1665795894e-2),
	epiP4:    math.Float32bits(1.6666665459e-1),
	epiP5:    math.Float32bits(5.0000001201e-1),
	epi127:   math.Float32bits(127),
}

// epiUses lists the constants each activation's code reads (apply, exp).
var epiUses = map[string][]int{
	verify.ActNone:      nil,
	verify.ActReLU:      nil,
	verify.ActReLU6:     {epiSix},
	verify.ActHardswish: {epiThree, epiSix},
	verify.ActSigmoid:   {epiSign, epiOne, epiExpHi, epiExpLo, epiLog2e, epiLn2Hi, epiLn2Lo, epiP0, epiP1, epiP2, epiP3, epiP4, epiP5, epi127},
	verify.ActSiLU:      {epiSign, epiOne, epiExpHi, epiExpLo, epiLog2e, epiLn2Hi, epiLn2Lo, epiP0, epiP1, epiP2, epiP3, epiP4, epiP5, epi127},
}

// newEpilogue returns pl's epilogue, adding its constant table to the file
// ctx builds (call it once per file, before the functions), or nil when
// the layer has no epilogue. The table holds only what the layer's code
// reads: the activation's constants, and the tail masks where the
// streaming kernel (EpiRows) is emitted and masks is set; none at all for
// ReLU or a residual alone.
func newEpilogue(ctx *build.Context, pl *Plan, masks bool) *epilogue {
	if !pl.Epi {
		return nil
	}
	uses, ok := epiUses[pl.P.Activation]
	if !ok {
		panic(fmt.Sprintf("dygen: no AVX2 epilogue for activation %q (bug)", pl.P.Activation))
	}
	e := &epilogue{act: pl.P.Activation, slot: map[int]int{}, maskSlot: -1}
	masks = masks && pl.EpiRows()
	if len(uses) == 0 && !masks {
		return e
	}
	e.consts = ctx.StaticGlobal("epi")
	ctx.DataAttributes(attr.RODATA | attr.NOPTR)
	for i, c := range uses {
		e.slot[c] = i
		for j := 0; j < 8; j++ {
			ctx.AppendDatum(operand.U32(epiValues[c]))
		}
	}
	if masks {
		// The tail masks: 8 lanes on, then 8 off. The 8 lanes that start
		// at element 8−r have their first r lanes on.
		e.maskSlot = len(uses)
		for j := 0; j < 16; j++ {
			m := uint32(0)
			if j < 8 {
				m = 0xffffffff
			}
			ctx.AppendDatum(operand.U32(m))
		}
	}
	return e
}

// mask is the address of the tail-mask table (16 lanes, see newEpilogue).
func (e *epilogue) mask() operand.Mem {
	if e.maskSlot < 0 {
		panic("dygen: the epilogue's tail masks are not in this file (bug)")
	}
	return e.consts.Offset(32 * e.maskSlot)
}

// c is constant i as a vector operand.
func (e *epilogue) c(i int) operand.Mem {
	k, ok := e.slot[i]
	if !ok {
		panic(fmt.Sprintf("dygen: epilogue constant %d is not in the table of %s (bug)", i, e.act))
	}
	return e.consts.Offset(32 * k)
}

// vecOps emits the epilogue's operations at the width of its registers:
// YMM (AVX2, constants read as whole vectors of the table) or ZMM
// (AVX-512F, each constant broadcast from the first float of its vector,
// VPXORD for VXORPS, which is AVX512DQ, and VRNDSCALEPS for VROUNDPS, which
// has no ZMM form). One activation code serves both.
type vecOps struct {
	ctx  *build.Context
	e    *epilogue
	wide bool
}

func (o vecOps) zero(t reg.VecPhysical) {
	if o.wide {
		o.ctx.VPXORD(t, t, t)
	} else {
		o.ctx.VXORPS(t, t, t)
	}
}

// load sets t to constant c.
func (o vecOps) load(c int, t reg.VecPhysical) {
	if o.wide {
		o.ctx.VBROADCASTSS(o.e.c(c), t)
	} else {
		o.ctx.VMOVUPS(o.e.c(c), t)
	}
}

// op emits dst = f(c, src) for an instruction whose first operand is the
// constant c (VADDPS, VMULPS, …): narrow is its VEX form, wide its
// embedded-broadcast form.
func (o vecOps) op(narrow, wide func(...operand.Op), c int, src, dst reg.VecPhysical) {
	if o.wide {
		wide(o.e.c(c), src, dst)
	} else {
		narrow(o.e.c(c), src, dst)
	}
}

func (o vecOps) round(v reg.VecPhysical) {
	if o.wide {
		o.ctx.VRNDSCALEPS(operand.U8(0), v, v) // to nearest, no scaling
	} else {
		o.ctx.VROUNDPS(operand.U8(0), v, v) // to nearest
	}
}

// apply emits act(v) into v, using the registers in free (at least 3; they
// are clobbered). v and free are all YMM (AVX2) or all ZMM (AVX-512F).
func (e *epilogue) apply(ctx *build.Context, v reg.VecPhysical, free []reg.VecPhysical) {
	if len(free) < 3 {
		panic(fmt.Sprintf("dygen: the epilogue needs 3 free vector registers, has %d (bug)", len(free)))
	}
	o := vecOps{ctx: ctx, e: e, wide: v.Size() == 64}
	t0, t1, t2 := free[0], free[1], free[2]
	switch e.act {
	case verify.ActNone:
	case verify.ActReLU:
		o.zero(t0)
		ctx.VMAXPS(v, t0, v)
	case verify.ActReLU6:
		o.zero(t0)
		ctx.VMAXPS(v, t0, v)
		o.load(epiSix, t0)
		ctx.VMINPS(v, t0, v)
	case verify.ActHardswish:
		// v·min(max(v+3, 0), 6)/6, rounded as PyTorch's x·relu6(x+3)/6.
		o.op(ctx.VADDPS, ctx.VADDPS_BCST, epiThree, v, t0)
		o.zero(t1)
		ctx.VMAXPS(t0, t1, t0)
		o.load(epiSix, t1)
		ctx.VMINPS(t0, t1, t0)
		ctx.VMULPS(t0, v, t0)
		o.op(ctx.VDIVPS, ctx.VDIVPS_BCST, epiSix, t0, v)
	case verify.ActSigmoid:
		// 1/(1 + e^−v).
		o.op(ctx.VXORPS, ctx.VPXORD_BCST, epiSign, v, t0)
		e.exp(o, t0, t1, t2)
		o.op(ctx.VADDPS, ctx.VADDPS_BCST, epiOne, t2, t2)
		o.load(epiOne, t1)
		ctx.VDIVPS(t2, t1, v)
	case verify.ActSiLU:
		// v/(1 + e^−v).
		o.op(ctx.VXORPS, ctx.VPXORD_BCST, epiSign, v, t0)
		e.exp(o, t0, t1, t2)
		o.op(ctx.VADDPS, ctx.VADDPS_BCST, epiOne, t2, t2)
		ctx.VDIVPS(t2, v, v)
	default:
		panic(fmt.Sprintf("dygen: no vector epilogue for activation %q (bug)", e.act))
	}
}

// exp emits y = e^x (Cephes' expf: x = n·ln2 + r, e^r by a degree-7
// polynomial, 2^n through the exponent bits; about 1 ulp), clobbering x
// and n.
func (e *epilogue) exp(o vecOps, x, n, y reg.VecPhysical) {
	ctx := o.ctx
	o.load(epiExpHi, n)
	ctx.VMINPS(x, n, x)
	o.load(epiExpLo, n)
	ctx.VMAXPS(x, n, x)
	o.op(ctx.VMULPS, ctx.VMULPS_BCST, epiLog2e, x, n)
	o.round(n)
	o.op(ctx.VFNMADD231PS, ctx.VFNMADD231PS_BCST, epiLn2Hi, n, x)
	o.op(ctx.VFNMADD231PS, ctx.VFNMADD231PS_BCST, epiLn2Lo, n, x)
	// ((((((p0·r + p1)·r + p2)·r + p3)·r + p4)·r + p5)·r + 1)·r + 1.
	o.load(epiP0, y)
	for _, c := range []int{epiP1, epiP2, epiP3, epiP4, epiP5, epiOne, epiOne} {
		o.op(ctx.VFMADD213PS, ctx.VFMADD213PS_BCST, c, x, y)
	}
	o.op(ctx.VADDPS, ctx.VADDPS_BCST, epi127, n, n)
	ctx.VCVTPS2DQ(n, n)
	ctx.VPSLLD(operand.U8(23), n, n)
	ctx.VMULPS(n, y, y)
}

// EpiRows reports whether the layer finishes its outputs row by row with
// the streaming epilogue kernel EpiName: fixed sizes whose kernels write a
// scratch copied out by Go one row at a time (rows under 8 floats wide).
// The other layers finish them in their micro-kernels' stores or in the
// assembly copy out.
func (pl *Plan) EpiRows() bool {
	return pl.Epi && pl.Asm != nil && !pl.Asm.DirectOut && pl.Asm.CopyName == ""
}

// emitEpiKernel emits pl.EpiName: dst[i] = act(src[i] (+ res[i])) for i <
// n, n a positive multiple of 8, one vector at a time (the iterations are
// independent, so the core overlaps them).
//
//	DI dst, SI src, DX res, CX vectors left; Y0 the value, Y1–Y3 the
//	activation's temporaries.
func emitEpiKernel(ctx *build.Context, pl *Plan, e *epilogue) {
	name := pl.EpiName
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	sig := "func(dst, src []float32, n int)"
	if pl.Residual {
		sig = "func(dst, src, res []float32, n int)"
	}
	ctx.SignatureExpr(sig)
	ctx.Doc(fmt.Sprintf("%s finishes n outputs (%s), 8 at a time and the last n mod 8 with masked loads and stores (VMASKMOVPS: masked-off lanes are neither read nor written).", name, e.what()))
	dst, src, res, n, tail := reg.RDI, reg.RSI, reg.RDX, reg.RCX, reg.R8
	ctx.Load(ctx.Param("dst").Base(), dst)
	ctx.Load(ctx.Param("src").Base(), src)
	if pl.Residual {
		ctx.Load(ctx.Param("res").Base(), res)
	}
	ctx.Load(ctx.Param("n"), n)
	ctx.MOVQ(n, tail)
	ctx.ANDQ(operand.U8(7), tail)
	ctx.SHRQ(operand.U8(3), n)
	ctx.JZ(operand.LabelRef("tail"))
	ctx.Label("loop")
	ctx.VMOVUPS(mem(src, 0), reg.Y0)
	if pl.Residual {
		ctx.VADDPS(mem(res, 0), reg.Y0, reg.Y0)
		ctx.ADDQ(operand.U32(32), res)
	}
	e.apply(ctx, reg.Y0, []reg.VecPhysical{reg.Y1, reg.Y2, reg.Y3})
	ctx.VMOVUPS(reg.Y0, mem(dst, 0))
	ctx.ADDQ(operand.U32(32), src)
	ctx.ADDQ(operand.U32(32), dst)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	ctx.Label("tail")
	ctx.TESTQ(tail, tail)
	ctx.JZ(operand.LabelRef("done"))
	// The mask of the first `tail` lanes starts at element 8 − tail.
	ctx.NEGQ(tail)
	ctx.ADDQ(operand.U8(8), tail)
	ctx.LEAQ(e.mask(), reg.R9)
	ctx.VMOVDQU(operand.Mem{Base: reg.R9, Index: tail, Scale: 4}, reg.Y4)
	ctx.VMASKMOVPS(mem(src, 0), reg.Y4, reg.Y0)
	if pl.Residual {
		ctx.VMASKMOVPS(mem(res, 0), reg.Y4, reg.Y1)
		ctx.VADDPS(reg.Y1, reg.Y0, reg.Y0)
	}
	e.apply(ctx, reg.Y0, []reg.VecPhysical{reg.Y1, reg.Y2, reg.Y3})
	ctx.VMASKMOVPS(reg.Y0, reg.Y4, mem(dst, 0))
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// what says what the epilogue applies, for comments.
func (e *epilogue) what() string {
	return e.act
}
