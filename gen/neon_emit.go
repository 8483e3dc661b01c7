package gen

import (
	"fmt"

	a64 "github.com/dygen/dygen/gen/arm64asm"
	"github.com/dygen/dygen/verify"
)

// The NEON backend (arm64): the micro-kernels, fusion, mean-pool sum and
// routing FC of a fixed-size layer, printed by gen/arm64asm from the same
// AsmPlan as the AVX2 backend. A vector of 8 pixels is a pair of Q
// registers, so the plan's blocking, offsets and layouts carry over; the
// weights reach the FMAs by element (FMLA v.4s, v.4s, w.s[lane]), four
// weights per register.

// neonFiles returns the NEON backend's files of the layer view d.Plan
// (Plan.ForISA(ISANEON)): the assembly, its Go side (the same driver
// templates as AVX2, executed for this ISA), the batch driver and the
// routing FC.
func neonFiles(pkg string, d layerData) ([]OutputFile, error) {
	pl, isa := d.Plan, d.ISA
	f := a64.NewFile(isa.Build)
	fi := pl.FuseInfo()
	tmplName := "asm_amd64.go.tmpl"
	if pl.RT != nil {
		tmplName = "rt_amd64.go.tmpl"
		for _, k := range pl.RT.Kernels {
			emitNEONRT(f, pl, k)
		}
		if pl.RT.CopyName != "" {
			emitNEONCopyRT(f, pl, pl.RT.CopyName)
		}
		if pl.RT.GatherName != "" {
			emitNEONGather2(f, pl.RT.GatherName)
		}
		if pl.RT.PackName != "" && !pl.RT.DirectIn {
			emitNEONPackRT(f, pl)
		}
	} else {
		for _, k := range pl.Asm.Kernels {
			emitNEONConv(f, pl, k)
		}
		if pl.Asm.PackName != "" {
			emitNEONPack(f, pl)
		}
		if pl.Asm.CopyName != "" {
			emitNEONCopy(f, pl)
		}
	}
	if fi.FuseName != "" {
		emitNEONFuse(f, pl, fi.FuseName)
	}
	emitNEONSum(f, fi.SumName)
	s := f.Bytes(Header)
	goSide, err := execute(tmplName, d)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Name, err)
	}
	tag := "_" + isa.FileTag
	out := []OutputFile{{pl.File + tag + "_dygen.s", s}, {pl.File + tag + "_dygen.go", goSide}}
	if pl.Asm != nil && pl.Batch != nil {
		src, err := execute("batch_amd64.go.tmpl", d)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Name, err)
		}
		out = append(out, OutputFile{pl.File + "_batch" + tag + "_dygen.go", src})
	}
	if pl.FCName() != "" {
		src, err := execute("route_amd64.go.tmpl", d)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Name, err)
		}
		rf := a64.NewFile(isa.Build)
		emitNEONFC(rf, pl)
		out = append(out, OutputFile{pl.File + "_route" + tag + "_dygen.go", src},
			OutputFile{pl.File + "_route" + tag + "_dygen.s", rf.Bytes(Header)})
	}
	return out, nil
}

// General-purpose registers of the NEON micro-kernels.
var (
	nOut, nIn, nW, nBias  = a64.R(0), a64.R(1), a64.R(2), a64.R(3)
	nNblk, nInp, nWp, nCi = a64.R(4), a64.R(5), a64.R(6), a64.R(7)
	nRes, nPF, nTap, nAt  = a64.R(8), a64.R(9), a64.R(10), a64.R(11)
	nConst, nPFAt, nWAt   = a64.R(12), a64.R(13), a64.R(14)
)

// neonVec returns vector register n.
func neonVec(n int) a64.V { return a64.Vec(n) }

// neonConv is what differs between the NEON micro-kernels of the
// fixed-size and of the run-time-size backends; neonConvKernel writes the
// rest (as convKernel does for AVX2).
type neonConv struct {
	sig, doc string
	memFMA   bool
	// setup loads the kernel's own arguments.
	setup func(fn *a64.Func)
	// tap emits what tap t needs first and returns the register that
	// points at its input vector 0 (vector j is 32·j bytes on).
	tap func(fn *a64.Func, t int) a64.Reg
	// channelEnd emits what ends an input channel iteration; then the
	// input pointer moves on by channelStride.
	channelEnd    func(fn *a64.Func)
	channelStride func(fn *a64.Func)
	// outChannel (resChannel) returns the register that points at output
	// (residual) channel i's vector 0, emitting what computes it.
	outChannel, resChannel func(fn *a64.Func, i int) a64.Reg
	act                    string // activation applied before the stores ("" none)
}

// neonConvKernel emits one M×P micro-kernel: per pixel block the 2·M·P
// accumulators start at the bias, every input channel's taps are unrolled
// (the P input pairs of a tap loaded with LDP from a tap pointer, then per
// output channel its weight's lane and 2·P FMAs by element), and the block
// is finished (residual, activation) and stored.
//
//	R0 out, R1 in, R2 w, R3 bias, R4 pixel blocks left, R5 input channel
//	pointer, R6 weight pointer, R7 input channels left, R8 res, R9 pf,
//	R10 tap pointer, R11 store pointer, R12 constants, R13 prefetch
//	address, R14 weight address; R15–R17, R19 the run-time-size kernels'.
//	V[2(m·P+p)+h] accumulators (h: the pair's half), then the inputs: P
//	pairs, or a rotation of 3 pairs when M = 1; V30, V31 weights.
//
// It returns the function and the bounds [lo, hi) of its per-input-channel
// instructions in fn.Insts, for the static model (neonModel).
func neonConvKernel(f *a64.File, pl *Plan, k AsmKernel, c neonConv) (fn *a64.Func, lo, hi int) {
	m, pv := k.M, k.P
	ISANEON.checkBlocking(m, pv, c.memFMA)
	if m > 2*ISANEON.Lanes {
		panic(fmt.Sprintf("dygen: a %d-channel NEON kernel needs more than two weight registers (bug)", m))
	}
	fn = f.Func(k.Name, c.sig, c.doc)
	fn.LoadBase("out", nOut)
	fn.LoadBase("in", nIn)
	fn.LoadBase("w", nW)
	fn.LoadBase("bias", nBias)
	fn.LoadInt("nblk", nNblk)
	c.setup(fn)
	acc := func(i, j, h int) a64.V { return neonVec(2*(i*pv+j) + h) }
	inBase := 2 * m * pv
	inPair := func(j int) (a64.V, a64.V) {
		if c.memFMA {
			r := j % 3
			return neonVec(inBase + 2*r), neonVec(inBase + 2*r + 1)
		}
		return neonVec(inBase + 2*j), neonVec(inBase + 2*j + 1)
	}
	wRegs := [2]a64.V{neonVec(30), neonVec(31)}
	taps := pl.P.KH * pl.P.KW
	total := taps * m // weights per input channel iteration

	fn.Label("block")
	for i := 0; i < m; i++ {
		fn.LDRS(4*i, nBias, wRegs[0])
		fn.VDUPLane(wRegs[0], 0, acc(i, 0, 0))
		for j := 0; j < pv; j++ {
			for h := 0; h < 2; h++ {
				if j > 0 || h > 0 {
					fn.VMOV(acc(i, 0, 0), acc(i, j, h))
				}
			}
		}
	}
	fn.MOVD(nIn, nInp)
	fn.MOVD(nW, nWp)
	if pl.CinG > 1 {
		fn.MOVDImm(int64(pl.CinG), nCi)
		fn.Label("channel")
	}
	lo = len(fn.Insts)

	// The weight windows: each register holds 4 consecutive weights of
	// the channel's [taps][M] stream, loaded where the stream needs them
	// and never past its end (a window starts at min(s, total−4)).
	type window struct{ base, n int }
	var win [2]window
	next := 0
	var weight func(s int) (a64.V, int)
	weight = func(s int) (a64.V, int) {
		for r := range win {
			if win[r].n > 0 && s >= win[r].base && s < win[r].base+win[r].n {
				return wRegs[r], s - win[r].base
			}
		}
		r := next
		next = (next + 1) % 2
		if total < 4 {
			win[r] = window{s, 1}
			neonLoadS(fn, nWp, 4*s, wRegs[r])
		} else {
			b := min(s, total-4)
			win[r] = window{b, 4}
			neonLoadQ(fn, nWp, 4*b, wRegs[r])
		}
		return weight(s)
	}

	for t := 0; t < taps; t++ {
		tp := c.tap(fn, t)
		if !c.memFMA {
			for j := 0; j < pv; j++ {
				lo, hi := inPair(j)
				fn.LDPQ(32*j, tp, lo, hi)
			}
		}
		for i := 0; i < m; i++ {
			w, lane := weight(t*m + i)
			for j := 0; j < pv; j++ {
				lo, hi := inPair(j)
				if c.memFMA {
					fn.LDPQ(32*j, tp, lo, hi)
				}
				fn.FMLAElem(lo, w, lane, acc(i, j, 0))
				fn.FMLAElem(hi, w, lane, acc(i, j, 1))
			}
		}
	}
	c.channelEnd(fn)
	if pl.CinG > 1 {
		c.channelStride(fn)
		neonAdd(fn, 4*total, nWp, nWp)
		fn.SUBSImm(1, nCi, nCi)
		fn.BNE("channel")
	}
	hi = len(fn.Insts)

	free := make([]a64.V, 0, 32)
	for r := inBase; r < 32; r++ {
		free = append(free, neonVec(r))
	}
	if c.resChannel != nil {
		for i := 0; i < m; i++ {
			rp := c.resChannel(fn, i)
			for j := 0; j < pv; j++ {
				fn.LDPQ(32*j, rp, free[0], free[1])
				fn.FADD(acc(i, j, 0), free[0], acc(i, j, 0))
				fn.FADD(acc(i, j, 1), free[1], acc(i, j, 1))
			}
		}
	}
	if c.act != "" {
		for i := 0; i < m; i++ {
			for j := 0; j < pv; j++ {
				for h := 0; h < 2; h++ {
					neonActivate(fn, c.act, acc(i, j, h), free)
				}
			}
		}
	}
	for i := 0; i < m; i++ {
		op := c.outChannel(fn, i)
		for j := 0; j < pv; j++ {
			fn.STPQ(acc(i, j, 0), acc(i, j, 1), 32*j, op)
		}
	}
	fn.ADDImm(32*pv, nIn, nIn)
	fn.ADDImm(32*pv, nOut, nOut)
	if c.resChannel != nil {
		fn.ADDImm(32*pv, nRes, nRes)
	}
	fn.SUBSImm(1, nNblk, nNblk)
	fn.BNE("block")
	fn.RET()
	return fn, lo, hi
}

// emitNEONConv emits one M×P micro-kernel of a fixed-size layer: every
// offset a constant, the prefetches of the PI and PF variants spread over
// the taps as in the AVX2 kernel.
func emitNEONConv(f *a64.File, pl *Plan, k AsmKernel) (fn *a64.Func, lo, hi int) {
	a := pl.Asm
	c := neonConv{
		sig:    kernelSignature(k),
		doc:    fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels (pairs of Q registers) per pixel block.", k.Name, k.M, k.P),
		memFMA: a.MemFMA,
		setup: func(fn *a64.Func) {
			if k.PF > 0 {
				fn.LoadBase("pf", nPF)
			}
			if k.Res {
				fn.LoadBase("res", nRes)
			}
		},
		channelStride: func(fn *a64.Func) { neonAdd(fn, 4*a.PS, nInp, nInp) },
		outChannel:    func(fn *a64.Func, i int) a64.Reg { return neonPointer(fn, nOut, 4*i*a.OPS, nAt) },
	}
	if k.PF > 0 {
		c.doc += fmt.Sprintf(" It prefetches %d cache line(s) of each of %d experts into L2 per input channel.", k.PF, pl.P.K)
	}
	if k.PI != nil {
		c.doc += fmt.Sprintf(" It prefetches the next chunk's input, %d bytes ahead.", k.PIDist)
	}
	if k.Act != "" {
		c.act = pl.P.Activation
		c.doc += fmt.Sprintf(" It finishes each output as it stores it (%s).", pl.P.Activation)
	}
	if k.Res {
		c.resChannel = func(fn *a64.Func, i int) a64.Reg { return neonPointer(fn, nRes, 4*i*a.OPS, nAt) }
	}
	// The prefetches of a channel iteration, spread over its taps.
	taps := pl.P.KH * pl.P.KW
	nextPF, nextPI := 0, 0
	experts, stride := pl.P.K, pl.P.OutC*pl.Taps
	pf := func(fn *a64.Func) {
		neonPrefetch(fn, nPF, 4*(nextPF/k.PF)*stride+64*(nextPF%k.PF), 2)
	}
	pi := func(fn *a64.Func) { neonPrefetch(fn, nInp, k.PI[nextPI], 1) }
	c.tap = func(fn *a64.Func, t int) a64.Reg {
		for ; nextPF < k.PF*experts && nextPF*taps <= t*k.PF*experts; nextPF++ {
			pf(fn)
		}
		for ; nextPI < len(k.PI) && nextPI*taps <= t*len(k.PI); nextPI++ {
			pi(fn)
		}
		return neonPointer(fn, nInp, 4*a.TapOff[t], nTap)
	}
	c.channelEnd = func(fn *a64.Func) {
		for ; nextPF < k.PF*experts; nextPF++ {
			pf(fn)
		}
		for ; nextPI < len(k.PI); nextPI++ {
			pi(fn)
		}
		if k.PF > 0 {
			fn.ADDImm(64*k.PF, nPF, nPF)
		}
	}
	return neonConvKernel(f, pl, k, c)
}

// Registers of the run-time-size kernels: the tap rows' offsets, the
// output and input channel strides in bytes, and the current tap row.
var nRows, nOStride, nCStride, nRow = a64.R(15), a64.R(16), a64.R(17), a64.R(19)

// emitNEONRT emits one M×P run-time-size micro-kernel: each tap read at its
// row's offset, loaded from rows when the row changes and added to the
// channel pointer, plus its constant column offset; the channel strides
// from arguments.
func emitNEONRT(f *a64.File, pl *Plan, k AsmKernel) (fn *a64.Func, lo, hi int) {
	r := pl.RT
	row := -1
	return neonConvKernel(f, pl, k, neonConv{
		sig:    rtSignature,
		doc:    fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels (pairs of Q registers) per pixel block, for any input size.", k.Name, k.M, k.P),
		memFMA: r.MemFMA,
		setup: func(fn *a64.Func) {
			fn.LoadBase("rows", nRows)
			fn.LoadInt("ops", nOStride)
			fn.LSLImm(2, nOStride, nOStride)
			fn.LoadInt("ps", nCStride)
			fn.LSLImm(2, nCStride, nCStride)
		},
		tap: func(fn *a64.Func, t int) a64.Reg {
			if t == 0 || r.TapRow[t] != row {
				row = r.TapRow[t]
				fn.LDRX(8*row, nRows, nRow)
				fn.ADDReg(nInp, nRow, nRow)
			}
			return neonPointer(fn, nRow, 4*r.TapCol[t], nTap)
		},
		channelEnd:    func(*a64.Func) {},
		channelStride: func(fn *a64.Func) { fn.ADDReg(nInp, nCStride, nInp) },
		outChannel: func(fn *a64.Func, i int) a64.Reg {
			if i == 0 {
				return nOut
			}
			if i == 1 {
				fn.ADDReg(nOut, nOStride, nAt)
			} else {
				fn.ADDReg(nAt, nOStride, nAt)
			}
			return nAt
		},
	})
}

// neonPointer returns base when off is 0, else tmp = base + off.
func neonPointer(fn *a64.Func, base a64.Reg, off int, tmp a64.Reg) a64.Reg {
	if off == 0 {
		return base
	}
	neonAdd(fn, off, base, tmp)
	return tmp
}

// neonAdd sets d = base + off (off ≥ 0): one or two ADDs of 12-bit
// immediates, or through R12 beyond 2^24.
func neonAdd(fn *a64.Func, off int, base, d a64.Reg) {
	if off < 1<<24 {
		fn.ADDImm(off, base, d)
		return
	}
	fn.MOVDImm(int64(off), nConst)
	fn.ADDReg(nConst, base, d)
}

// neonLoadQ loads the 16 bytes at base+off into v, through R14 when one
// LDR cannot reach off.
func neonLoadQ(fn *a64.Func, base a64.Reg, off int, v a64.V) {
	if a64.OffsetOK(off, 16) {
		fn.LDRQ(off, base, v)
		return
	}
	neonAdd(fn, off, base, nWAt)
	fn.LDRQ(0, nWAt, v)
}

// neonLoadS loads the float32 at base+off into lane 0 of v.
func neonLoadS(fn *a64.Func, base a64.Reg, off int, v a64.V) {
	if a64.OffsetOK(off, 4) {
		fn.LDRS(off, base, v)
		return
	}
	neonAdd(fn, off, base, nWAt)
	fn.LDRS(0, nWAt, v)
}

// neonPrefetch prefetches the line at base+off into L1 (level 1) or L2.
func neonPrefetch(fn *a64.Func, base a64.Reg, off, level int) {
	if a64.PRFMOffsetOK(off) {
		fn.PRFM(off, base, level)
		return
	}
	neonAdd(fn, off, base, nPFAt)
	fn.PRFM(0, nPFAt, level)
}

// neonConst sets every lane of v to the float32 with bits c.
func neonConst(fn *a64.Func, c uint32, v a64.V) {
	if c == 0 {
		fn.VZero(v)
		return
	}
	fn.MOVWImm(c, nConst)
	fn.VDUPReg(nConst, v)
}

// neonActivate applies the activation to v in place, using free[0:4] as
// temporaries. It computes what the AVX2 epilogue computes, in the same
// order of operations, so that both match PyTorch's formulas: NaN stays
// NaN (FMAX/FMIN return NaN when either operand is NaN).
func neonActivate(fn *a64.Func, act string, v a64.V, free []a64.V) {
	if len(free) < 4 {
		panic(fmt.Sprintf("dygen: the NEON epilogue needs 4 free vector registers, has %d (bug)", len(free)))
	}
	t0, t1, t2, t3 := free[0], free[1], free[2], free[3]
	switch act {
	case verify.ActNone:
	case verify.ActReLU:
		fn.VZero(t0)
		fn.FMAX(v, t0, v)
	case verify.ActReLU6:
		fn.VZero(t0)
		fn.FMAX(v, t0, v)
		neonConst(fn, epiValues[epiSix], t0)
		fn.FMIN(v, t0, v)
	case verify.ActHardswish:
		// v·min(max(v+3, 0), 6)/6, rounded as PyTorch's x·relu6(x+3)/6.
		neonConst(fn, epiValues[epiThree], t1)
		fn.FADD(v, t1, t0)
		fn.VZero(t1)
		fn.FMAX(t0, t1, t0)
		neonConst(fn, epiValues[epiSix], t1)
		fn.FMIN(t0, t1, t0)
		fn.FMUL(v, t0, t0)
		fn.FDIV(t0, t1, v)
	case verify.ActSigmoid, verify.ActSiLU:
		// sigmoid: 1/(1 + e^−v); SiLU: v/(1 + e^−v).
		neonConst(fn, epiValues[epiSign], t1)
		fn.VEOR(v, t1, t0)
		y := neonExp(fn, t0, t1, t2, t3)
		neonConst(fn, epiValues[epiOne], t1)
		fn.FADD(y, t1, y)
		if act == verify.ActSigmoid {
			fn.FDIV(t1, y, v)
		} else {
			fn.FDIV(v, y, v)
		}
	default:
		panic(fmt.Sprintf("dygen: no NEON epilogue for activation %q (bug)", act))
	}
}

// neonExp computes e^x as the AVX2 epilogue does (Cephes' expf: x clamped
// to ±88, x = n·ln2 + r, e^r by a degree-7 polynomial, 2^n through the
// exponent bits), clobbering x, n, a and b; it returns the register that
// holds the result (a or b).
func neonExp(fn *a64.Func, x, n, a, b a64.V) a64.V {
	neonConst(fn, epiValues[epiExpHi], n)
	fn.FMIN(x, n, x)
	neonConst(fn, epiValues[epiExpLo], n)
	fn.FMAX(x, n, x)
	neonConst(fn, epiValues[epiLog2e], a)
	fn.FMUL(x, a, n)
	fn.FRINTN(n, n) // to nearest, ties to even, as VROUNDPS $0
	neonConst(fn, epiValues[epiLn2Hi], a)
	fn.VFMLS(n, a, x)
	neonConst(fn, epiValues[epiLn2Lo], a)
	fn.VFMLS(n, a, x)
	// ((((((p0·r + p1)·r + p2)·r + p3)·r + p4)·r + p5)·r + 1)·r + 1, the
	// running value alternating between a and b.
	y, c := a, b
	neonConst(fn, epiValues[epiP0], y)
	for _, k := range []int{epiP1, epiP2, epiP3, epiP4, epiP5, epiOne, epiOne} {
		neonConst(fn, epiValues[k], c)
		fn.VFMLA(y, x, c)
		y, c = c, y
	}
	// 2^n: n + 127 in the exponent field.
	fn.FCVTZS(n, n)
	fn.MOVWImm(127, nConst)
	fn.VDUPReg(nConst, c)
	fn.VADDI(n, c, n)
	fn.VSHL(23, n, n)
	fn.FMUL(y, n, y)
	return y
}

// emitNEONSum emits the channel sum of the mean pool: 32 floats per
// iteration into 4 accumulators, then their lanes.
//
//	R0 x, R1 groups of 32 left; V0–V3 sums, V4–V11 loads.
func emitNEONSum(f *a64.File, name string) {
	fn := f.Func(name, "func(x []float32) float32", name+" returns the sum of x[:len(x)&^31] (float32 partial sums).")
	x, n := a64.R(0), a64.R(1)
	fn.LoadBase("x", x)
	fn.LoadLen("x", n)
	fn.LSRImm(5, n, n)
	for i := 0; i < 4; i++ {
		fn.VZero(neonVec(i))
	}
	fn.CBZ(n, "done")
	fn.Label("loop")
	fn.VLD1P(x, neonVec(4), 4)
	fn.VLD1P(x, neonVec(8), 4)
	for i := 0; i < 4; i++ {
		fn.FADD(neonVec(i), neonVec(4+i), neonVec(i))
	}
	for i := 0; i < 4; i++ {
		fn.FADD(neonVec(i), neonVec(8+i), neonVec(i))
	}
	fn.SUBSImm(1, n, n)
	fn.BNE("loop")
	fn.Label("done")
	fn.FADD(neonVec(0), neonVec(1), neonVec(0))
	fn.FADD(neonVec(2), neonVec(3), neonVec(2))
	fn.FADD(neonVec(0), neonVec(2), neonVec(0))
	fn.FADDP(neonVec(0), neonVec(0), neonVec(0))
	fn.FADDP(neonVec(0), neonVec(0), neonVec(0))
	fn.StoreRetS(neonVec(0))
	fn.RET()
}

// emitNEONFuse emits the fusion of one block of 4 output channels: per 8
// taps, Σ_k π[k,o+i]·W[k,o+i,t..t+8] for the 4 channels i (FMA by element:
// one register holds the 4 channels' π of expert k), transposed into the
// [tap][channel] layout the micro-kernel reads.
//
//	R0 dst, R1 w, R2 pi, R3 groups of 8 taps left, R4 scale, R5 row pointer.
//	V0–V7 the channels' sums (channel i: V2i taps 0–3, V2i+1 taps 4–7),
//	V8–V11 transposition, V12–V15 the transposed taps, V16… π (up to 12
//	experts kept in registers), V28–V29 a weight row, V30–V31 scales, π.
func emitNEONFuse(f *a64.File, pl *Plan, name string) {
	p := pl.P
	sig, doc := asmFuseSignature, name+" fuses the expert kernels of 4 output channels, 8 taps at a time."
	if pl.TapScale {
		sig, doc = asmFuseScaleSignature, name+" fuses the expert kernels of 4 output channels, 8 taps at a time, each tap scaled by scale."
	}
	fn := f.Func(name, sig, doc)
	dst, w, pi, n, scale, row := a64.R(0), a64.R(1), a64.R(2), a64.R(3), a64.R(4), a64.R(5)
	fn.LoadBase("dst", dst)
	fn.LoadBase("w", w)
	fn.LoadBase("pi", pi)
	if pl.TapScale {
		fn.LoadBase("scale", scale)
	}
	fn.LoadInt("n8", n)
	keep := p.K <= 12
	piReg := func(k int) a64.V {
		if keep {
			return neonVec(16 + k)
		}
		neonLoadQ(fn, pi, 4*k*p.OutC, neonVec(31))
		return neonVec(31)
	}
	if keep {
		for k := 0; k < p.K; k++ {
			neonLoadQ(fn, pi, 4*k*p.OutC, neonVec(16+k))
		}
	}
	fn.Label("taps")
	for i := 0; i < 4; i++ {
		lo, hi := neonVec(2*i), neonVec(2*i+1)
		for k := 0; k < p.K; k++ {
			pk := piReg(k)
			rp := neonPointer(fn, w, 4*(k*p.OutC+i)*pl.Taps, row)
			fn.LDPQ(0, rp, neonVec(28), neonVec(29))
			if k == 0 {
				fn.FMULElem(neonVec(28), pk, i, lo)
				fn.FMULElem(neonVec(29), pk, i, hi)
			} else {
				fn.FMLAElem(neonVec(28), pk, i, lo)
				fn.FMLAElem(neonVec(29), pk, i, hi)
			}
		}
		if pl.TapScale {
			fn.LDPQ(0, scale, neonVec(30), neonVec(31))
			fn.FMUL(lo, neonVec(30), lo)
			fn.FMUL(hi, neonVec(31), hi)
		}
	}
	// 4×4 transposes: taps 0–3 from the low halves, 4–7 from the high.
	for h := 0; h < 2; h++ {
		a0, a1, a2, a3 := neonVec(h), neonVec(2+h), neonVec(4+h), neonVec(6+h)
		t0, t1, t2, t3 := neonVec(8), neonVec(9), neonVec(10), neonVec(11)
		fn.VTRN1S4(a0, a1, t0) // a0 b0 a2 b2
		fn.VTRN2S4(a0, a1, t1) // a1 b1 a3 b3
		fn.VTRN1S4(a2, a3, t2) // c0 d0 c2 d2
		fn.VTRN2S4(a2, a3, t3) // c1 d1 c3 d3
		fn.VZIP1D2(t0, t2, neonVec(12))
		fn.VZIP1D2(t1, t3, neonVec(13))
		fn.VZIP2D2(t0, t2, neonVec(14))
		fn.VZIP2D2(t1, t3, neonVec(15))
		fn.VST1P(neonVec(12), 4, dst)
	}
	if pl.TapScale {
		fn.ADDImm(32, scale, scale)
	}
	fn.ADDImm(32, w, w)
	fn.SUBSImm(1, n, n)
	fn.BNE("taps")
	fn.RET()
}

// emitNEONFC emits FCName: out[r] += Σ_c float64(w[r·Cin+c])·x[c] for the
// rows r = 0..3, n8 = Cin/8 groups of 8 inputs, in float64 lanes.
//
//	R0 out, R1–R4 the rows, R5 x, R6 groups left; V0–V7 sums (row r:
//	V2r, V2r+1), V8–V11 inputs, V12–V13 a row's floats, V14–V17 widened.
func emitNEONFC(f *a64.File, pl *Plan) {
	name := pl.FCName()
	fn := f.Func(name, "func(out []float64, w []float32, x []float64, n8 int)",
		name+" adds to out[0:4] the dot products of 4 FC rows with x (float64 sums).")
	out, x, n := a64.R(0), a64.R(5), a64.R(6)
	rows := []a64.Reg{a64.R(1), a64.R(2), a64.R(3), a64.R(4)}
	fn.LoadBase("out", out)
	fn.LoadBase("w", rows[0])
	fn.LoadBase("x", x)
	fn.LoadInt("n8", n)
	for r := 1; r < 4; r++ {
		neonAdd(fn, 4*pl.P.InC, rows[r-1], rows[r])
	}
	for i := 0; i < 8; i++ {
		fn.VZero(neonVec(i))
	}
	fn.Label("loop")
	fn.VLD1P(x, neonVec(8), 4) // x[c..c+8] as 4 pairs of doubles
	for r := 0; r < 4; r++ {
		fn.VLD1P(rows[r], neonVec(12), 2)
		fn.FCVTL(neonVec(12), neonVec(14))
		fn.FCVTL2(neonVec(12), neonVec(15))
		fn.FCVTL(neonVec(13), neonVec(16))
		fn.FCVTL2(neonVec(13), neonVec(17))
		fn.VFMLAD(neonVec(14), neonVec(8), neonVec(2*r))
		fn.VFMLAD(neonVec(15), neonVec(9), neonVec(2*r+1))
		fn.VFMLAD(neonVec(16), neonVec(10), neonVec(2*r))
		fn.VFMLAD(neonVec(17), neonVec(11), neonVec(2*r+1))
	}
	fn.SUBSImm(1, n, n)
	fn.BNE("loop")
	for r := 0; r < 4; r++ {
		a := neonVec(2 * r)
		fn.FADDD(a, neonVec(2*r+1), a)
		fn.FADDPD(a, a)
		fn.LDRD(8*r, out, neonVec(20))
		fn.FADDDS(a, neonVec(20), a)
		fn.STRD(a, 8*r, out)
	}
	fn.RET()
}

// neonPair loads (store: stores) the 8 floats at base+off into (from) a
// and b: one LDP (STP) when it reaches off, else through R14.
func neonPair(fn *a64.Func, store bool, base a64.Reg, off int, a, b a64.V) {
	r := base
	if !a64.PairOffsetOK(off) {
		neonAdd(fn, off, base, nWAt)
		r, off = nWAt, 0
	}
	if store {
		fn.STPQ(a, b, off, r)
	} else {
		fn.LDPQ(off, r, a, b)
	}
}

// neonStoreZeroS stores a float32 zero at base+off.
func neonStoreZeroS(fn *a64.Func, base a64.Reg, off int, zero a64.V) {
	if a64.OffsetOK(off, 4) {
		fn.STRS(zero, off, base)
		return
	}
	neonAdd(fn, off, base, nWAt)
	fn.STRS(zero, 0, nWAt)
}

// emitNEONCopy emits the copy of n output channels from the kernel's flat
// rows of Wq (channel stride OPS) to NCHW rows of Wo ≥ 8, 8 floats at a
// time, the last 8 of a row overlapping the ones before; with an epilogue
// each vector is finished on the way (the residual, laid out as y and
// possibly y itself, added, then the activation). As in the AVX2 copy, a
// row's overlapping last vector is loaded and summed with its residual
// before the row's first store, so no residual float is read after it was
// overwritten.
//
//	R0 y channel, R1 out channel, R2 res channel, R3 channels left, R4 y
//	row, R5 out row, R6 res row, R7 rows left, R14 a far address; V0–V1
//	the data, V2–V5 the epilogue's scratch, V6–V7 the early last vector,
//	V8–V9 residuals.
func emitNEONCopy(f *a64.File, pl *Plan) {
	a := pl.Asm
	residual := pl.Epi && pl.Residual
	doc := a.CopyName + " copies n output channels from the kernel's rows of Wq to rows of Wo."
	if pl.Epi {
		doc = fmt.Sprintf("%s copies n output channels from the kernel's rows of Wq to rows of Wo, finishing each output (%s).", a.CopyName, pl.P.Activation)
	}
	fn := f.Func(a.CopyName, copySignature(pl), doc)
	y, out, res, n := a64.R(0), a64.R(1), a64.R(2), a64.R(3)
	yrow, orow, rrow, rows := a64.R(4), a64.R(5), a64.R(6), a64.R(7)
	fn.LoadBase("y", y)
	fn.LoadBase("out", out)
	if residual {
		fn.LoadBase("res", res)
	}
	fn.LoadInt("n", n)
	wo := pl.Wo
	var chunks []int
	for j := 0; j+8 <= wo; j += 8 {
		chunks = append(chunks, j)
	}
	tail := wo % 8
	early := tail != 0 && residual
	if tail != 0 && !early {
		chunks = append(chunks, wo-8)
	}
	v := neonVec
	scratch := []a64.V{v(2), v(3), v(4), v(5)}
	finish := func(lo, hi a64.V) {
		if pl.Epi {
			neonActivate(fn, pl.P.Activation, lo, scratch)
			neonActivate(fn, pl.P.Activation, hi, scratch)
		}
	}
	fn.Label("channel")
	fn.MOVD(y, yrow)
	fn.MOVD(out, orow)
	if residual {
		fn.MOVD(res, rrow)
	}
	fn.MOVDImm(int64(pl.Ho), rows)
	fn.Label("row")
	if early {
		neonPair(fn, false, orow, 4*(wo-8), v(6), v(7))
		neonPair(fn, false, rrow, 4*(wo-8), v(8), v(9))
		fn.FADD(v(6), v(8), v(6))
		fn.FADD(v(7), v(9), v(7))
	}
	for _, j := range chunks {
		neonPair(fn, false, orow, 4*j, v(0), v(1))
		if residual {
			neonPair(fn, false, rrow, 4*j, v(8), v(9))
			fn.FADD(v(0), v(8), v(0))
			fn.FADD(v(1), v(9), v(1))
		}
		finish(v(0), v(1))
		neonPair(fn, true, yrow, 4*j, v(0), v(1))
	}
	if early {
		finish(v(6), v(7))
		neonPair(fn, true, yrow, 4*(wo-8), v(6), v(7))
	}
	neonAdd(fn, 4*a.Wq, orow, orow)
	neonAdd(fn, 4*wo, yrow, yrow)
	if residual {
		neonAdd(fn, 4*wo, rrow, rrow)
	}
	fn.SUBSImm(1, rows, rows)
	fn.BNE("row")
	neonAdd(fn, 4*a.OPS, out, out)
	neonAdd(fn, 4*pl.Ho*wo, y, y)
	if residual {
		neonAdd(fn, 4*pl.Ho*wo, res, res)
	}
	fn.SUBSImm(1, n, n)
	fn.BNE("channel")
	fn.RET()
}

// emitNEONPack emits the pack of n input channels into phase planes for a
// layer planAsmPack accepted (zero padding, column stride 1 or 2), every
// offset a constant of the layer; for stride 2, 16 input floats are split
// into the even and the odd columns with UZP1/UZP2.
//
//	R0 dst channel, R1 x channel, R2 channels left, R3 packed row (phase
//	pw = 0), R4 input row, R5 rows left, R14 a far address; V0–V3 loads,
//	V4–V7 even and odd columns, V31 zeros.
func emitNEONPack(f *a64.File, pl *Plan) {
	a, p := pl.Asm, pl.P
	fn := f.Func(a.PackName, asmPackSignature, a.PackName+" packs n input channels into their stride-phase planes (zero padding).")
	dst, x, n := a64.R(0), a64.R(1), a64.R(2)
	drow, xrow, rows := a64.R(3), a64.R(4), a64.R(5)
	fn.LoadBase("dst", dst)
	fn.LoadBase("x", x)
	fn.LoadInt("n", n)
	v := neonVec
	zero := v(31)
	fn.VZero(zero)
	plane := a.Hq * a.Wq
	base := a.ColRuns[0].C0
	evenPw, oddPw := 0, 1
	if p.SW == 2 {
		base = min(base, a.ColRuns[1].C0)
		if a.ColRuns[1].C0 == base {
			evenPw, oddPw = 1, 0
		}
	}
	var chunks []int
	for j := 0; j+8 <= a.RunN; j += 8 {
		chunks = append(chunks, j)
	}
	if a.RunN%8 != 0 {
		chunks = append(chunks, a.RunN-8)
	}
	zeroRow := func(r a64.Reg, off int) { // Wq zeros at r + 4·off
		for j := 0; j+8 <= a.Wq; j += 8 {
			neonPair(fn, true, r, 4*(off+j), zero, zero)
		}
		if a.Wq%8 != 0 {
			neonPair(fn, true, r, 4*(off+a.Wq-8), zero, zero)
		}
	}
	fn.Label("channel")
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
		neonAdd(fn, 4*((ph*p.SW)*a.Hq+rr.J0)*a.Wq, dst, drow)
		neonAdd(fn, 4*rr.C0*pl.W, x, xrow)
		fn.MOVDImm(int64(rr.N), rows)
		label := fmt.Sprintf("rows%d", ph)
		fn.Label(label)
		for _, j := range chunks {
			if p.SW == 1 {
				neonPair(fn, false, xrow, 4*(base+j), v(0), v(1))
				neonPair(fn, true, drow, 4*(a.ColRuns[0].J0+j), v(0), v(1))
				continue
			}
			neonPair(fn, false, xrow, 4*(base+2*j), v(0), v(1))
			neonPair(fn, false, xrow, 4*(base+2*j+8), v(2), v(3))
			fn.VUZP1S4(v(0), v(1), v(4))
			fn.VUZP1S4(v(2), v(3), v(5))
			fn.VUZP2S4(v(0), v(1), v(6))
			fn.VUZP2S4(v(2), v(3), v(7))
			neonPair(fn, true, drow, 4*(evenPw*plane+a.ColRuns[evenPw].J0+j), v(4), v(5))
			neonPair(fn, true, drow, 4*(oddPw*plane+a.ColRuns[oddPw].J0+j), v(6), v(7))
		}
		for pw, r := range a.ColRuns {
			for t := 0; t < a.Wq; t++ {
				if t < r.J0 || t >= r.J0+r.N {
					neonStoreZeroS(fn, drow, 4*(pw*plane+t), zero)
				}
			}
		}
		neonAdd(fn, 4*a.Wq, drow, drow)
		neonAdd(fn, 4*p.SH*pl.W, xrow, xrow)
		fn.SUBSImm(1, rows, rows)
		fn.BNE(label)
	}
	neonAdd(fn, 4*a.PS, dst, dst)
	neonAdd(fn, 4*pl.H*pl.W, x, x)
	fn.SUBSImm(1, n, n)
	fn.BNE("channel")
	fn.RET()
}

// emitNEONCopyRT emits a run-time-size layer's copy out: n channels of ho
// rows of wo floats from the kernels' rows of wq (channel stride ops) to
// y's rows of wo, finishing each output (residual, activation) as the AVX2
// copy does: rows of 8 or more 8 floats at a time, the last 8 overlapping
// (with a residual, loaded and summed before the row's first store), and
// shorter rows one float at a time.
//
//	R0 y, R1 out, R2 res, R3 channels left, R4 out row, R5 rows left, R6
//	groups of 8 left, R7 wo, R8 4·wq, R9 4·ops, R10 the byte (or float)
//	offset in the row, R11 an address, R13 4·wo; V0–V1 the data, V2–V5 the
//	epilogue's scratch, V6–V7 the last 8, V8–V9 residuals.
func emitNEONCopyRT(f *a64.File, pl *Plan, name string) {
	residual := pl.Epi && pl.Residual
	sig := "func(y, out []float32, n, ho, wo, wq, ops int)"
	if residual {
		sig = "func(y, out, res []float32, n, ho, wo, wq, ops int)"
	}
	doc := name + " copies n output channels from the kernels' rows of wq floats to rows of wo."
	if pl.Epi {
		doc = fmt.Sprintf("%s copies n output channels from the kernels' rows of wq floats to rows of wo, finishing each output (%s).", name, pl.P.Activation)
	}
	fn := f.Func(name, sig, doc)
	R := a64.R
	// R12 is the epilogue's constant register (neonConst).
	y, out, res, n, orow, rows, vecs, wo, wqb, opsb, t, at, wob := R(0), R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8), R(9), R(10), R(11), R(13)
	v := neonVec
	fn.LoadBase("y", y)
	fn.LoadBase("out", out)
	if residual {
		fn.LoadBase("res", res)
	}
	fn.LoadInt("n", n)
	fn.LoadInt("wo", wo)
	fn.LSLImm(2, wo, wob)
	fn.LoadInt("wq", wqb)
	fn.LSLImm(2, wqb, wqb)
	fn.LoadInt("ops", opsb)
	fn.LSLImm(2, opsb, opsb)
	scratch := []a64.V{v(2), v(3), v(4), v(5)}
	finish := func(regs ...a64.V) {
		if pl.Epi {
			for _, r := range regs {
				neonActivate(fn, pl.P.Activation, r, scratch)
			}
		}
	}
	// load8 puts out (+ res) at byte offset off of the row, off in t minus
	// back, into a, b.
	load8 := func(a, b a64.V, back int) {
		fn.ADDReg(orow, t, at)
		if back > 0 {
			fn.SUBImm(back, at, at)
		}
		fn.VLD1(at, a, 2)
		if residual {
			fn.ADDReg(res, t, at)
			if back > 0 {
				fn.SUBImm(back, at, at)
			}
			fn.VLD1(at, v(8), 2)
			fn.FADD(a, v(8), a)
			fn.FADD(b, v(9), b)
		}
	}
	store8 := func(a a64.V, back int) {
		fn.ADDReg(y, t, at)
		if back > 0 {
			fn.SUBImm(back, at, at)
		}
		fn.VST1(a, 2, at)
	}
	fn.CBZ(n, "done")
	fn.Label("channel")
	fn.MOVD(out, orow)
	fn.LoadInt("ho", rows)
	fn.Label("row")
	fn.CMPImm(8, wo)
	fn.BLT("short")
	fn.MOVD(wob, t) // the last 8 floats end at 4·wo
	if residual {
		load8(v(6), v(7), 32)
	}
	fn.LSRImm(3, wo, vecs)
	fn.MOVDImm(0, t)
	fn.Label("vec")
	load8(v(0), v(1), 0)
	finish(v(0), v(1))
	store8(v(0), 0)
	fn.ADDImm(32, t, t)
	fn.SUBSImm(1, vecs, vecs)
	fn.BNE("vec")
	// The last 8 floats of the row (overlapping, or the same again).
	fn.MOVD(wob, t)
	if !residual {
		load8(v(6), v(7), 32)
	}
	finish(v(6), v(7))
	store8(v(6), 32)
	fn.B("rowdone")
	fn.Label("short")
	fn.MOVDImm(0, t)
	fn.Label("scalar")
	fn.LSLImm(2, t, at)
	fn.ADDReg(orow, at, at)
	fn.LDRS(0, at, v(0))
	if residual {
		fn.LSLImm(2, t, at)
		fn.ADDReg(res, at, at)
		fn.LDRS(0, at, v(8))
		fn.FADD(v(0), v(8), v(0))
	}
	finish(v(0))
	fn.LSLImm(2, t, at)
	fn.ADDReg(y, at, at)
	fn.STRS(v(0), 0, at)
	fn.ADDImm(1, t, t)
	fn.CMPReg(t, wo)
	fn.BLT("scalar")
	fn.Label("rowdone")
	fn.ADDReg(y, wob, y)
	if residual {
		fn.ADDReg(res, wob, res)
	}
	fn.ADDReg(orow, wqb, orow)
	fn.SUBSImm(1, rows, rows)
	fn.BNE("row")
	fn.ADDReg(out, opsb, out)
	fn.SUBSImm(1, n, n)
	fn.BNE("channel")
	fn.Label("done")
	fn.RET()
}

// emitNEONGather2 emits the Go pack's gather for a column stride of 2:
// dst[j] = src[2j] for j < n, n a positive multiple of 8, reading src[:2n]
// 16 floats at a time (UZP1 keeps the even lanes of each register pair).
//
//	R0 dst, R1 src, R2 groups of 8 left; V0–V3 the input, V4–V5 the result.
func emitNEONGather2(f *a64.File, name string) {
	fn := f.Func(name, "func(dst, src []float32, n int)", name+" writes src[2j] into dst[j] for j < n (n a positive multiple of 8).")
	dst, src, n := a64.R(0), a64.R(1), a64.R(2)
	fn.LoadBase("dst", dst)
	fn.LoadBase("src", src)
	fn.LoadInt("n", n)
	fn.LSRImm(3, n, n)
	fn.Label("loop")
	fn.VLD1P(src, neonVec(0), 4)
	fn.VUZP1S4(neonVec(0), neonVec(1), neonVec(4))
	fn.VUZP1S4(neonVec(2), neonVec(3), neonVec(5))
	fn.VST1P(neonVec(4), 2, dst)
	fn.SUBSImm(1, n, n)
	fn.BNE("loop")
	fn.RET()
}

// emitNEONPackRT emits the run-time-size pack (RTPlan.PackName): the phase
// planes of n zero-padded input channels from the geometry table g that the
// generated setSize computes per input size (the pg* entries), as the AVX2
// kernel does: per packed row, zeros, the run of input columns c0, c0+SW, …
// 8 floats at a time (stride 2: 16 read, UZP1 keeps the even ones), the
// run's overlapping last 8 (stride 2: UZP2, the odd floats of its window)
// or its rest one at a time, then zeros; with fill 0 the zeros are not
// written (they are there from an earlier call at this size), and for
// stride 2 one pass writes both column phases' runs of a row when g says
// they read adjacent columns (pgMerge). The phase loops are unrolled;
// rows and channels are run-time loops. The Go side checks every length.
//
//	R0 dst channel, R1 x channel, R2 channels left, R3 rowIdx, R4 g, R5
//	packed row i, R6 input row (−1: zeros), R7 dst pointer, R8 src
//	pointer, R9 counts, R10 a second dst pointer, R11 fill, R13, R14
//	scratch; V31 zeros, V0–V3 loads, V4–V7 results.
func emitNEONPackRT(f *a64.File, pl *Plan) {
	p, r := pl.P, pl.RT
	R := a64.R
	v := neonVec
	fn := f.Func(r.PackName, "func(dst, x []float32, rowIdx []int32, g []int, n, fill int)",
		r.PackName+" packs n zero-padded input channels into their phase planes, as the geometry g says.")
	dst, x, n, rowIdx, g, i, ry, d, src, cnt, tmp, fill, s1, s2 := R(0), R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8), R(9), R(10), R(11), R(13), R(14)
	fn.LoadBase("dst", dst)
	fn.LoadBase("x", x)
	fn.LoadBase("rowIdx", rowIdx)
	fn.LoadBase("g", g)
	fn.LoadInt("n", n)
	fn.LoadInt("fill", fill)
	gm := func(k int, d a64.Reg) { fn.LDRX(8*k, g, d) }
	// addG sets d += g[k] (through s2).
	addG := func(k int, d a64.Reg) { gm(k, s2); fn.ADDReg(d, s2, d) }
	labels := 0
	label := func(what string) string {
		labels++
		return fmt.Sprintf("%s%d", what, labels)
	}
	zero := v(31)
	fn.VZero(zero)
	// zeros writes cnt zeros at d (unless fill is 0), advancing d.
	zeros := func() {
		write, vec, sc, scl, end := label("zw"), label("zvec"), label("zsc"), label("zscl"), label("zend")
		fn.CBNZ(fill, write)
		fn.LSLImm(2, cnt, s2)
		fn.ADDReg(d, s2, d)
		fn.B(end)
		fn.Label(write)
		fn.CMPImm(8, cnt)
		fn.BLT(sc)
		fn.Label(vec)
		fn.STPQ(zero, zero, 0, d)
		fn.ADDImm(32, d, d)
		fn.SUBImm(8, cnt, cnt)
		fn.CMPImm(8, cnt)
		fn.BGE(vec)
		fn.Label(sc)
		fn.CBZ(cnt, end)
		fn.Label(scl)
		fn.STRS(zero, 0, d)
		fn.ADDImm(4, d, d)
		fn.SUBSImm(1, cnt, cnt)
		fn.BNE(scl)
		fn.Label(end)
	}
	// rowPtr sets d = dst + i·g[pgDstRowBytes] + k·g[pgPlaneBytes].
	rowPtr := func(k int, d a64.Reg) {
		gm(pgDstRowBytes, s1)
		fn.MUL(i, s1, d)
		fn.ADDReg(dst, d, d)
		if k > 0 {
			gm(pgPlaneBytes, s1)
			fn.MOVDImm(int64(k), s2)
			fn.MUL(s1, s2, s1)
			fn.ADDReg(d, s1, d)
		}
	}
	// srcRow sets src = x + ry·g[pgRowBytes].
	srcRow := func() {
		gm(pgRowBytes, s1)
		fn.MUL(ry, s1, src)
		fn.ADDReg(x, src, src)
	}
	fn.CBZ(n, "done")
	fn.Label("channel")
	for ph := 0; ph < p.SH; ph++ {
		rows, nextRow := label("rows"), label("nextrow")
		fn.MOVDImm(0, i)
		fn.Label(rows)
		// ry = rowIdx[ph·hq + i]
		fn.MOVD(i, s1)
		if ph > 0 {
			gm(pgHq, s2)
			fn.MOVDImm(int64(ph), tmp)
			fn.MUL(s2, tmp, s2)
			fn.ADDReg(s1, s2, s1)
		}
		fn.LSLImm(2, s1, s1)
		fn.ADDReg(rowIdx, s1, s1)
		fn.LDRSW(0, s1, ry)
		if p.SW == 2 {
			perPhase, mEnd, mLoop := label("perphase"), label("mend"), label("mloop")
			fn.CBNZ(fill, perPhase)
			gm(pgMerge, s1)
			fn.CBZ(s1, perPhase)
			fn.CMPImm(0, ry)
			fn.BLT(nextRow) // a padding row: its zeros are there
			rowPtr(2*ph, d)
			fn.MOVD(d, tmp)
			addG(pgMEven, d)
			addG(pgMOdd, tmp)
			srcRow()
			addG(pgMC0, src)
			gm(pgMN8, cnt)
			fn.CBZ(cnt, mEnd)
			fn.Label(mLoop)
			fn.VLD1P(src, v(0), 4)
			fn.VUZP1S4(v(0), v(1), v(4))
			fn.VUZP1S4(v(2), v(3), v(5))
			fn.VUZP2S4(v(0), v(1), v(6))
			fn.VUZP2S4(v(2), v(3), v(7))
			fn.VST1P(v(4), 2, d)
			fn.VST1P(v(6), 2, tmp)
			fn.SUBSImm(1, cnt, cnt)
			fn.BNE(mLoop)
			fn.Label(mEnd)
			gm(pgMLastSrc, cnt)
			fn.CMPImm(0, cnt)
			fn.BLT(nextRow)
			srcRow()
			addG(pgMC0, src)
			fn.ADDReg(src, cnt, src)
			gm(pgMLastRel, cnt)
			fn.ADDReg(d, cnt, d)
			fn.ADDReg(tmp, cnt, tmp)
			fn.VLD1(src, v(0), 4)
			fn.VUZP1S4(v(0), v(1), v(4))
			fn.VUZP1S4(v(2), v(3), v(5))
			fn.VUZP2S4(v(0), v(1), v(6))
			fn.VUZP2S4(v(2), v(3), v(7))
			fn.VST1(v(4), 2, d)
			fn.VST1(v(6), 2, tmp)
			fn.B(nextRow)
			fn.Label(perPhase)
		}
		for pw := 0; pw < p.SW; pw++ {
			ph0 := pgPhase + pw*pgPhaseLen
			zrow, next := label("zrow"), label("next")
			rowPtr(ph*p.SW+pw, d)
			fn.CMPImm(0, ry)
			fn.BLT(zrow)
			srcRow()
			addG(ph0+pgC0Bytes, src)
			gm(ph0+pgJ0, cnt)
			zeros()
			vec, vecEnd, noLast, rest, restEnd := label("run"), label("runend"), label("nolast"), label("rest"), label("restend")
			gm(ph0+pgN8, cnt)
			fn.LSRImm(3, cnt, cnt)
			fn.CBZ(cnt, vecEnd)
			fn.Label(vec)
			if p.SW == 1 {
				fn.VLD1P(src, v(0), 2)
				fn.VST1P(v(0), 2, d)
			} else {
				fn.VLD1P(src, v(0), 4)
				fn.VUZP1S4(v(0), v(1), v(4))
				fn.VUZP1S4(v(2), v(3), v(5))
				fn.VST1P(v(4), 2, d)
			}
			fn.SUBSImm(1, cnt, cnt)
			fn.BNE(vec)
			fn.Label(vecEnd)
			// The run's last 8, overlapping: from the window at pgLastSrc of
			// the input row (stride 2: its odd floats).
			gm(ph0+pgLastSrc, tmp)
			fn.CMPImm(0, tmp)
			fn.BLT(noLast)
			srcRow()
			fn.ADDReg(src, tmp, src)
			gm(ph0+pgLastDst, tmp)
			fn.ADDReg(d, tmp, tmp)
			if p.SW == 1 {
				fn.VLD1(src, v(0), 2)
				fn.VST1(v(0), 2, tmp)
			} else {
				fn.VLD1(src, v(0), 4)
				fn.VUZP2S4(v(0), v(1), v(4))
				fn.VUZP2S4(v(2), v(3), v(5))
				fn.VST1(v(4), 2, tmp)
			}
			addG(ph0+pgLastAdv, d)
			fn.Label(noLast)
			gm(ph0+pgNRest, cnt)
			fn.CBZ(cnt, restEnd)
			fn.Label(rest)
			fn.LDRS(0, src, v(0))
			fn.STRS(v(0), 0, d)
			fn.ADDImm(4*p.SW, src, src)
			fn.ADDImm(4, d, d)
			fn.SUBSImm(1, cnt, cnt)
			fn.BNE(rest)
			fn.Label(restEnd)
			gm(ph0+pgNTail, cnt)
			zeros()
			fn.B(next)
			fn.Label(zrow)
			fn.CBZ(fill, next)
			gm(pgWq, cnt)
			zeros()
			fn.Label(next)
		}
		fn.Label(nextRow)
		fn.ADDImm(1, i, i)
		gm(pgHq, s1)
		fn.CMPReg(i, s1)
		fn.BLT(rows)
	}
	addG(pgDstChanBytes, dst)
	addG(pgSrcChanBytes, x)
	fn.SUBSImm(1, n, n)
	fn.BNE("channel")
	fn.Label("done")
	fn.RET()
}
