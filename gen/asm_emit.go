package gen

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
	"github.com/mmcloughlin/avo/reg"
)

// asmSignature is the Go signature of every micro-kernel: out and in start
// at the block's first output channel and first input channel, at the
// first pixel; w is the block's fused kernel [CinG][KH][KW][M]; bias its M
// biases; nblk ≥ 1 pixel blocks of P vectors are computed.
const asmSignature = "func(out, in, w, bias []float32, nblk int)"

// asmSignaturePF is the signature of a prefetching micro-kernel: pf is
// where its PREFETCHT1s start (AsmKernel.PF lines of each expert per input
// channel).
const asmSignaturePF = "func(out, in, w, bias, pf []float32, nblk int)"

// kernelSignature is k's Go signature: res, the residual laid out as out,
// follows bias in a kernel that adds it (AsmKernel.Res).
func kernelSignature(k AsmKernel) string {
	switch {
	case k.Res && k.PF > 0:
		return "func(out, in, w, bias, res, pf []float32, nblk int)"
	case k.Res:
		return "func(out, in, w, bias, res []float32, nblk int)"
	case k.PF > 0:
		return asmSignaturePF
	}
	return asmSignature
}

// asmBuildConstraint keeps the assembly out of purego and non-amd64 builds.
const asmBuildConstraint = "amd64,!purego"

// emitAsm writes the AVX2+FMA micro-kernels of one layer with avo, used as
// a library: every register is a physical one chosen here (Y0–Y15 and six
// general-purpose registers), so avo's allocator has nothing to decide and
// the output is deterministic.
func emitAsm(pkg string, pl *Plan) ([]byte, error) {
	a := pl.Asm
	ctx := build.NewContext()
	ctx.ConstraintExpr(asmBuildConstraint)
	epi := newEpilogue(ctx, pl, true)
	for _, k := range a.Kernels {
		emitAsmKernel(ctx, pl, k, epi, ISAAVX2)
	}
	if a.FuseName != "" {
		emitFuseKernel(ctx, pl, a.FuseName)
	}
	if a.PackName != "" {
		emitPackKernel(ctx, pl)
	}
	if a.CopyName != "" {
		emitCopyKernel(ctx, pl, false, epi)
		if a.CopyNT {
			emitCopyKernel(ctx, pl, true, epi)
		}
	}
	emitSumKernel(ctx, a.SumName)
	if epi != nil && pl.EpiRows() {
		emitEpiKernel(ctx, pl, epi)
	}
	return renderAsm(ctx, pkg, pl.Name, "assembly")
}

// emitWideAsm writes the micro-kernels of a kernel tier (isa.Over set:
// AVX-512 over AVX2) for a fixed- or run-time-size layer: one function per
// kernel of the base plan, same signature, isa's name; but none for the
// input-prefetching kernel (AsmKernel.PI), whose checked wrapper calls the
// plain kernel's twin (the AVX-512 kernels' blocks do not follow the
// chunks that the prefetches were placed for).
func emitWideAsm(pkg string, pl *Plan, isa *VecISA) ([]byte, error) {
	ctx := build.NewContext()
	ctx.ConstraintExpr(asmBuildConstraint)
	if pl.RT != nil {
		for _, k := range pl.RT.Kernels {
			emitRTKernel(ctx, pl, k, isa)
		}
		return renderAsm(ctx, pkg, pl.Name, isa.Label+" assembly")
	}
	var epi *epilogue
	for _, k := range pl.Asm.Kernels {
		if k.Act != "" && epi == nil {
			epi = newEpilogue(ctx, pl, false)
		}
	}
	for _, k := range pl.Asm.Kernels {
		if k.PI == nil { // the input-prefetching kernel's twin is the plain one's
			emitAsmKernel(ctx, pl, k, epi, isa)
		}
	}
	return renderAsm(ctx, pkg, pl.Name, isa.Label+" assembly")
}

// renderAsm runs avo's passes over the functions built in ctx and prints
// them as a Go assembly file of package pkg; what names the file in errors.
func renderAsm(ctx *build.Context, pkg, layer, what string) ([]byte, error) {
	f, err := ctx.Result()
	if err != nil {
		return nil, fmt.Errorf("layer %s: building %s: %w", layer, what, err)
	}
	if err := pass.Compile.Execute(f); err != nil {
		return nil, fmt.Errorf("layer %s: compiling %s: %w", layer, what, err)
	}
	src, err := printer.NewGoAsm(printer.Config{Name: "dygen", Pkg: pkg}).Print(f)
	if err != nil {
		return nil, fmt.Errorf("layer %s: printing %s: %w", layer, what, err)
	}
	return src, nil
}

func mem(base reg.Register, disp int) operand.Mem {
	return operand.Mem{Base: base, Disp: disp}
}

// convKernel is what differs between the micro-kernels of the fixed-size
// and of the run-time-size backends; emitConvKernel writes the rest.
type convKernel struct {
	sig, doc string
	memFMA   bool // FMAs take the input from memory
	// setup loads the kernel's own arguments, after the common ones.
	setup func()
	// body is called before each pixel-block body is emitted (an AVX-512
	// kernel has several: the main block and its tails); prefetch says
	// whether that body may prefetch (only the main one: the tails' count
	// is not bounded by nblk).
	body func(prefetch bool)
	// tap emits what tap t needs first (prefetches, a row offset) and
	// returns where its input vector 0 is (vector j is j vectors on).
	tap func(t int) operand.Mem
	// shiftOf, when set, returns how many floats after tap t0's input tap
	// t's is, or −1 when that is not a constant (another row register).
	// The AVX-512 kernels whose FMAs read the input from memory use it to
	// load each run of nearby taps' input once (see shiftGroups).
	shiftOf func(t0, t int) int
	// channelEnd emits what ends an input channel iteration, before the
	// pointers move on by channelStride (input) and the taps' weights.
	channelEnd    func()
	channelStride operand.Op
	// outChannel emits what the stores of output channel i need and
	// returns where its vector 0 goes.
	outChannel func(i int) operand.Mem
	// epi, when set, finishes each output as it is stored; resChannel then
	// returns where output channel i's residual vector 0 is (nil: none).
	epi        *epilogue
	resChannel func(i int) operand.Mem
}

// Registers of every micro-kernel:
//
//	DI out, SI in (pixel block), DX w, R8 bias, CX pixel blocks left
//	(AVX-512: vectors of 8 pixels left), AX input channel pointer, BX
//	weight pointer, R9 input channels left.
//	AVX2: Y[m·P+p] accumulators, Y[M·P+p] inputs, Y15 the broadcast
//	weight. AVX-512: Z[m·PZ+p] accumulators, Z[M·PZ+p] inputs, Z31 the
//	broadcast weight, K1 the mask of a half vector's 8 lanes.
var (
	kOut, kIn, kW, kBias  = reg.RDI, reg.RSI, reg.RDX, reg.R8
	kNblk, kInp, kWp, kCi = reg.RCX, reg.RAX, reg.RBX, reg.R9
	kRes                  = reg.R11 // the residual (pixel block), in kernels that add it
)

var (
	ymms = []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
	zmms = []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
)

// emitConvKernel emits one M×P micro-kernel for isa (AVX2 or AVX-512):
// per pixel block, the accumulators start at the bias, every input
// channel's taps are unrolled (the input vectors, then per output channel
// the weight and the FMAs), and the block is stored.
//
// The AVX2 kernel computes nblk blocks of P vectors of 8 pixels, as the
// plan blocks them. The AVX-512 kernel has the same signature and computes
// the same nblk·P·8 consecutive pixels, blocked its own way: blocks of PZ
// vectors of 16 pixels while they last (VecISA.wideBlock), then at most
// one block of each power of two below PZ (an odd count of 8-pixel vectors
// left after a main block starts 8 pixels early, recomputing them; else the
// last 8 pixels are the low half of the last block's last vector, or of a
// vector of their own, under the opmask K1 (zero-masked loads,
// merge-masked stores: nothing outside the pixels is read or written).
func emitConvKernel(ctx *build.Context, pl *Plan, k AsmKernel, c convKernel, isa *VecISA) {
	m := k.M
	ctx.Function(isa.kernelName(k.Name))
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(c.sig)
	ctx.Doc(c.doc)
	ctx.Load(ctx.Param("out").Base(), kOut)
	ctx.Load(ctx.Param("in").Base(), kIn)
	ctx.Load(ctx.Param("w").Base(), kW)
	ctx.Load(ctx.Param("bias").Base(), kBias)
	ctx.Load(ctx.Param("nblk"), kNblk)
	c.setup()
	if isa.Lanes == 8 {
		ctx.Label("block")
		emitConvBody(ctx, pl, k, c, ymms, k.P, false, "")
		ctx.DECQ(kNblk)
		ctx.JNZ(operand.LabelRef("block"))
		ctx.VZEROUPPER()
		ctx.RET()
		return
	}
	pz := isa.wideBlock(m, c.memFMA)
	// CX = vectors of 8 pixels left.
	if k.P > 1 {
		ctx.IMUL3Q(operand.U32(k.P), kNblk, kNblk)
	}
	ctx.MOVL(operand.U32(0xff), kInp.As32())
	ctx.KMOVW(kInp.As32(), reg.K1)
	if shiftGroups(pl, c, true) != nil {
		// K2: the lanes of the extra vector a run of taps shifts in; K3:
		// those of a half vector and its shifted-in lanes. (Every body of
		// these kernels loads its half vector under K3, so K3 is set even
		// where no run shifts: an unset mask register holds whatever the
		// caller left, which once made a test's results differ.)
		sh := maxShift(pl, c)
		ctx.MOVL(operand.U32(1<<sh-1), kInp.As32())
		ctx.KMOVW(kInp.As32(), reg.K2)
		ctx.MOVL(operand.U32(1<<(8+sh)-1), kInp.As32())
		ctx.KMOVW(kInp.As32(), reg.K3)
	}
	ctx.CMPQ(kNblk, operand.U32(2*pz))
	ctx.JB(operand.LabelRef("tail"))
	ctx.Label("block")
	emitConvBody(ctx, pl, k, c, zmms, pz, false, "")
	ctx.SUBQ(operand.U32(2*pz), kNblk)
	ctx.CMPQ(kNblk, operand.U32(2*pz))
	ctx.JAE(operand.LabelRef("block"))
	if c.resChannel == nil {
		// After a main block, an odd count of 8-pixel vectors left starts
		// one vector earlier instead: the tail recomputes 8 outputs of
		// the block before it, with the same FMAs in the same order, so
		// it rewrites the same bits, and it needs no masked half vector,
		// whose few accumulators leave the FMAs waiting. (Not with an
		// in-kernel residual: res may be out, already finished.)
		ctx.TESTQ(operand.U32(1), kNblk)
		ctx.JZ(operand.LabelRef("tail"))
		ctx.SUBQ(operand.U32(32), kIn)
		ctx.SUBQ(operand.U32(32), kOut)
		ctx.INCQ(kNblk)
	}
	ctx.Label("tail")
	// Fewer than PZ vectors of 16 are left: one block of each power of two
	// below PZ that fits (their sum covers every count), so that a short
	// call still keeps several accumulators per channel in flight.
	// When exactly 2·nz+1 vectors of 8 are left, the block of nz takes the
	// last half vector as its own masked last vector, instead of leaving it
	// to a block of its own.
	for _, nz := range wideTails(pz) {
		sfx := fmt.Sprint(nz)
		ctx.CMPQ(kNblk, operand.U32(2*nz))
		ctx.JB(operand.LabelRef("skip" + sfx))
		ctx.CMPQ(kNblk, operand.U32(2*nz+1))
		ctx.JNE(operand.LabelRef("whole" + sfx))
		emitConvBody(ctx, pl, k, c, zmms, nz+1, true, sfx+"h")
		ctx.JMP(operand.LabelRef("done"))
		ctx.Label("whole" + sfx)
		emitConvBody(ctx, pl, k, c, zmms, nz, false, sfx)
		ctx.SUBQ(operand.U32(2*nz), kNblk)
		ctx.Label("skip" + sfx)
	}
	ctx.TESTQ(kNblk, kNblk)
	ctx.JZ(operand.LabelRef("done"))
	emitConvBody(ctx, pl, k, c, zmms, 1, true, "h")
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// wideTails returns the tail blocks of an AVX-512 kernel whose main block
// has pz vectors: the powers of two below pz, largest first.
func wideTails(pz int) []int {
	var t []int
	for nz := 1; nz < pz; nz *= 2 {
		t = append([]int{nz}, t...)
	}
	return t
}

// shiftGroups splits the taps into runs whose inputs lie 0…8 floats after
// the run's first one's (c.shiftOf), for the AVX-512 kernels whose FMAs
// read the input from memory; nil when the kernel is not one of those.
func shiftGroups(pl *Plan, c convKernel, wide bool) [][]int {
	if !wide || !c.memFMA {
		return nil
	}
	if c.shiftOf == nil {
		panic("dygen: an AVX-512 kernel with FMAs from memory needs convKernel.shiftOf (bug)")
	}
	var gs [][]int
	for t := 0; t < pl.P.KH*pl.P.KW; t++ {
		if n := len(gs); n > 0 {
			g := gs[n-1]
			if sh := c.shiftOf(g[0], t); sh >= 0 && sh <= 8 {
				gs[n-1] = append(g, t)
				continue
			}
		}
		gs = append(gs, []int{t})
	}
	return gs
}

// maxShift is the largest shift of shiftGroups' runs (0: none).
func maxShift(pl *Plan, c convKernel) int {
	sh := 0
	for _, g := range shiftGroups(pl, c, true) {
		for _, t := range g {
			sh = max(sh, c.shiftOf(g[0], t))
		}
	}
	return sh
}

// bodyRegs returns the vector registers a block of m channels × nv
// vectors needs: the accumulators and the broadcast weight, plus the input
// vectors unless the FMAs read them from memory, or with shifting (runs of
// taps loaded once, shiftGroups) nv+1 row vectors and the shifted one.
func bodyRegs(m, nv int, memFMA, shifting bool) int {
	switch {
	case shifting:
		return m*nv + nv + 3
	case memFMA:
		return m*nv + 1
	}
	return m*nv + nv + 1
}

// emitConvBody emits one pixel block of nv vectors (registers from vs,
// YMM or ZMM) and moves the pixel pointers past it; half: the block's last
// vector is the low 8 lanes of a ZMM, under K1, and the block is the call's
// last. sfx makes its labels unique.
func emitConvBody(ctx *build.Context, pl *Plan, k AsmKernel, c convKernel, vs []reg.VecPhysical, nv int, half bool, sfx string) {
	m := k.M
	vb := int(vs[0].Size()) // bytes per vector
	acc := func(i, j int) reg.VecPhysical { return vs[i*nv+j] }
	inReg := func(j int) reg.VecPhysical { return vs[m*nv+j] }
	wReg := vs[len(vs)-1]
	// memFMA: the FMAs read the input from memory (AVX2); the AVX-512
	// kernels then load runs of taps' inputs once instead (groups).
	memFMA := c.memFMA
	masked := func(j int) bool { return half && j == nv-1 }
	wide := vs[0].Size() == 64
	groups := shiftGroups(pl, c, wide)
	if n := bodyRegs(m, nv, memFMA, groups != nil); n > len(vs) {
		panic(fmt.Sprintf("dygen: a %d×%d block needs %d vector registers of %d (bug)", m, nv, n, len(vs)))
	}
	if c.body != nil {
		c.body(!half && sfx == "")
	}
	taps := pl.P.KH * pl.P.KW
	at := func(b operand.Mem, j int) operand.Mem {
		b.Disp += vb * j
		return b
	}
	for i := 0; i < m; i++ {
		ctx.VBROADCASTSS(mem(kBias, 4*i), acc(i, 0))
		for j := 1; j < nv; j++ {
			ctx.VMOVAPS(acc(i, 0), acc(i, j))
		}
	}
	ctx.MOVQ(kIn, kInp)
	ctx.MOVQ(kW, kWp)
	if pl.CinG > 1 {
		ctx.MOVQ(operand.U32(pl.CinG), kCi)
		ctx.Label("channel" + sfx)
	}
	for gi := range groups {
		// A run of taps whose inputs are 0…8 floats after its first's:
		// its nv input vectors (and the next one's first lanes) are loaded
		// once, and each tap's are VALIGND shifts of them. The FMAs are
		// those of the taps one by one, in order, as in the AVX2 kernel.
		g := groups[gi]
		bases := make([]operand.Mem, len(g))
		for i, t := range g {
			bases[i] = c.tap(t)
		}
		shifts := make([]int, len(g))
		for i, t := range g {
			shifts[i] = c.shiftOf(g[0], t)
		}
		row := func(j int) reg.VecPhysical { return vs[nv+j] } // nv+1 of them
		tmp := vs[2*nv+1]
		for j := 0; j < nv; j++ {
			if masked(j) {
				ctx.VMOVUPS_Z(at(bases[0], j), reg.K3, row(j))
			} else {
				ctx.VMOVUPS(at(bases[0], j), row(j))
			}
		}
		if len(g) > 1 && !half {
			ctx.VMOVUPS_Z(at(bases[0], nv), reg.K2, row(nv))
		}
		for i, t := range g {
			ctx.VBROADCASTSS(mem(kWp, 4*t), wReg)
			for j := 0; j < nv; j++ {
				x := row(j)
				if sh := shifts[i]; sh > 0 {
					hi := row(j + 1)
					if masked(j) {
						hi = row(j) // lanes past the half vector are not stored
					}
					ctx.VALIGND(operand.U8(sh), row(j), hi, tmp)
					x = tmp
				}
				ctx.VFMADD231PS(x, wReg, acc(0, j))
			}
		}
	}
	for t := 0; t < taps && groups == nil; t++ {
		base := c.tap(t)
		if !memFMA {
			for j := 0; j < nv; j++ {
				if masked(j) {
					ctx.VMOVUPS_Z(at(base, j), reg.K1, inReg(j))
				} else {
					ctx.VMOVUPS(at(base, j), inReg(j))
				}
			}
		}
		for i := 0; i < m; i++ {
			// One broadcast register per weight, on both ISAs: FMAs with
			// an embedded-broadcast weight ({1to16}) load it once per FMA
			// instead of once per PZ FMAs, and on Zen 5 that made the
			// AVX-512 kernels 1.5–1.6× slower (3x3 64@56: 1.9 against
			// 1.2 ms); the epilogue keeps its embedded broadcasts.
			ctx.VBROADCASTSS(mem(kWp, 4*(t*m+i)), wReg)
			for j := 0; j < nv; j++ {
				if memFMA {
					ctx.VFMADD231PS(at(base, j), wReg, acc(i, j))
				} else {
					ctx.VFMADD231PS(inReg(j), wReg, acc(i, j))
				}
			}
		}
	}
	c.channelEnd()
	if pl.CinG > 1 {
		ctx.ADDQ(c.channelStride, kInp)
		ctx.ADDQ(operand.U32(4*taps*m), kWp)
		ctx.DECQ(kCi)
		ctx.JNZ(operand.LabelRef("channel" + sfx))
	}
	if c.epi != nil {
		// The registers free once the accumulators are complete.
		free := vs[m*nv:]
		for i := 0; i < m; i++ {
			var res operand.Mem
			if c.resChannel != nil {
				res = c.resChannel(i)
			}
			for j := 0; j < nv; j++ {
				switch {
				case c.resChannel != nil && masked(j):
					ctx.VADDPS_Z(at(res, j), acc(i, j), reg.K1, acc(i, j))
				case c.resChannel != nil:
					ctx.VADDPS(at(res, j), acc(i, j), acc(i, j))
				}
				c.epi.apply(ctx, acc(i, j), free)
			}
		}
	}
	for i := 0; i < m; i++ {
		base := c.outChannel(i)
		for j := 0; j < nv; j++ {
			if masked(j) {
				ctx.VMOVUPS(acc(i, j), reg.K1, at(base, j)) // merge-masked
			} else {
				ctx.VMOVUPS(acc(i, j), at(base, j))
			}
		}
	}
	if half {
		return // the last block
	}
	ctx.ADDQ(operand.U32(vb*nv), kIn)
	ctx.ADDQ(operand.U32(vb*nv), kOut)
	if c.resChannel != nil {
		ctx.ADDQ(operand.U32(vb*nv), kRes)
	}
}

// emitAsmKernel emits one M×P micro-kernel of a fixed-size layer for isa:
// every offset a constant; R10 is the prefetch pointer of the PF variants.
func emitAsmKernel(ctx *build.Context, pl *Plan, k AsmKernel, epi *epilogue, isa *VecISA) {
	a := pl.Asm
	taps := pl.P.KH * pl.P.KW
	pfp := reg.R10
	c := convKernel{
		sig:           kernelSignature(k),
		doc:           fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels per pixel block%s.", isa.kernelName(k.Name), k.M, k.P, isa.blockedAs(k.M, a.MemFMA)),
		memFMA:        a.MemFMA,
		channelStride: operand.U32(4 * a.PS),
		outChannel:    func(i int) operand.Mem { return mem(kOut, 4*i*a.OPS) },
	}
	if k.PF > 0 {
		c.doc = fmt.Sprintf("%s computes %d output channels × %d vectors of 8 pixels per pixel block%s, prefetching %d cache line(s) of each of %d experts per input channel.", isa.kernelName(k.Name), k.M, k.P, isa.blockedAs(k.M, a.MemFMA), k.PF, pl.P.K)
	}
	if k.Act != "" {
		c.epi = epi
		c.doc += fmt.Sprintf(" It finishes each output as it stores it (%s).", c.epi.what())
	}
	c.setup = func() {
		if k.PF > 0 {
			ctx.Load(ctx.Param("pf").Base(), pfp)
		}
		if k.Res {
			ctx.Load(ctx.Param("res").Base(), kRes)
		}
	}
	if k.Res {
		c.resChannel = func(i int) operand.Mem { return mem(kRes, 4*i*a.OPS) }
	}
	// The channel iteration's prefetches, spread over its taps; only in
	// the bodies that may prefetch (see convKernel.body).
	nextPF, nextPI := 0, 0
	npf, npi := 0, 0
	c.body = func(prefetch bool) {
		nextPF, nextPI, npf, npi = 0, 0, 0, 0
		if prefetch {
			npf, npi = k.PF*pl.P.K, len(k.PI)
		}
	}
	stride := pl.P.OutC * pl.Taps // expert k's rows start k·stride floats on
	pf := func() { ctx.PREFETCHT1(mem(pfp, 4*(nextPF/k.PF)*stride+64*(nextPF%k.PF))) }
	pi := func() { ctx.PREFETCHT0(mem(kInp, k.PI[nextPI])) }
	c.tap = func(t int) operand.Mem {
		for ; nextPF < npf && nextPF*taps <= t*npf; nextPF++ {
			pf()
		}
		for ; nextPI < npi && nextPI*taps <= t*npi; nextPI++ {
			pi()
		}
		return mem(kInp, 4*a.TapOff[t])
	}
	c.shiftOf = func(t0, t int) int { return max(-1, a.TapOff[t]-a.TapOff[t0]) }
	c.channelEnd = func() {
		for ; nextPF < npf; nextPF++ {
			pf()
		}
		for ; nextPI < npi; nextPI++ {
			pi()
		}
		if npf > 0 {
			ctx.ADDQ(operand.U32(64*k.PF), pfp)
		}
	}
	emitConvKernel(ctx, pl, k, c, isa)
}

// asmFiles returns a fixed-size layer's AVX2 backend files: the assembly,
// its Go side (stubs, size checks, packing, fusion, driver; amd64 without
// purego) and the fallback declarations for every other build.
func asmFiles(pkg string, d layerData) ([]OutputFile, error) {
	s, err := emitAsm(pkg, d.Plan)
	if err != nil {
		return nil, err
	}
	return backendFiles(d, s, "asm_amd64.go.tmpl")
}

// backendFiles returns an AVX2 backend's files: the assembly s, its Go
// side from template goTmpl and the fallback declarations.
func backendFiles(d layerData, s []byte, goTmpl string) ([]OutputFile, error) {
	goSide, err := execute(goTmpl, d)
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

// asmFuseSignature: dst is the block's fused kernel [Taps][4], w the
// expert weights from the block's first channel (expert k, channel i at
// (k·Cout+i)·Taps), pi the coefficients from the block's first channel;
// n8 groups of 8 taps are fused.
const asmFuseSignature = "func(dst, w, pi []float32, n8 int)"

// asmFuseScaleSignature is ODConv's fusion (Plan.TapScale): scale holds
// the group's tap scales from the first tap on.
const asmFuseScaleSignature = "func(dst, w, pi, scale []float32, n8 int)"

// emitFuseKernel emits the fusion of one block of 4 output channels: per 8
// taps, Σ_k π[k,o+i]·W[k,o+i,t..t+8] for the 4 channels i, transposed
// in registers into the [tap][channel] layout the micro-kernel reads. The
// loop covers 16 taps at a time (two groups of 8 sharing each π
// broadcast), then one group of 8 when n8 is odd.
//
//	DI dst, SI w, DX pi, CX pairs of groups of 8 taps left.
//	Y0–Y3 and Y4–Y7 the two groups' channel sums, Y8 π, Y9–Y12 transposition.
func emitFuseKernel(ctx *build.Context, pl *Plan, name string) {
	p := pl.P
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	if pl.TapScale {
		ctx.SignatureExpr(asmFuseScaleSignature)
		ctx.Doc(name + " fuses the expert kernels of 4 output channels, 16 taps at a time, each tap scaled by scale.")
	} else {
		ctx.SignatureExpr(asmFuseSignature)
		ctx.Doc(name + " fuses the expert kernels of 4 output channels, 16 taps at a time.")
	}
	dst, w, pi, n := reg.RDI, reg.RSI, reg.RDX, reg.RCX
	scale := reg.R9
	ctx.Load(ctx.Param("dst").Base(), dst)
	ctx.Load(ctx.Param("w").Base(), w)
	ctx.Load(ctx.Param("pi").Base(), pi)
	if pl.TapScale {
		ctx.Load(ctx.Param("scale").Base(), scale)
	}
	ctx.Load(ctx.Param("n8"), n)
	groupA := [4]reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3}
	groupB := [4]reg.VecPhysical{reg.Y4, reg.Y5, reg.Y6, reg.Y7}
	piReg := reg.Y8
	tmp := [4]reg.VecPhysical{reg.Y9, reg.Y10, reg.Y11, reg.Y12}
	// sums computes taps [t, t+8) of the 4 channels into g for each group
	// (g, 4·t bytes into the rows).
	sums := func(groups [][4]reg.VecPhysical) {
		for i := 0; i < 4; i++ {
			for k := 0; k < p.K; k++ {
				ctx.VBROADCASTSS(mem(pi, 4*(k*p.OutC+i)), piReg)
				for gi, g := range groups {
					row := mem(w, 4*(k*p.OutC+i)*pl.Taps+32*gi)
					if k == 0 {
						ctx.VMULPS(row, piReg, g[i])
					} else {
						ctx.VFMADD231PS(row, piReg, g[i])
					}
				}
			}
			if pl.TapScale {
				for gi, g := range groups {
					ctx.VMULPS(mem(scale, 32*gi), g[i], g[i])
				}
			}
		}
	}
	// transposeStore writes the 8 taps × 4 channels in g as [tap][channel]
	// at dst + off bytes.
	transposeStore := func(g [4]reg.VecPhysical, off int) {
		ctx.VUNPCKLPS(g[1], g[0], tmp[0])   // a0 b0 a1 b1 | a4 b4 a5 b5
		ctx.VUNPCKHPS(g[1], g[0], tmp[1])   // a2 b2 a3 b3 | a6 b6 a7 b7
		ctx.VUNPCKLPS(g[3], g[2], tmp[2])   // c0 d0 c1 d1 | c4 d4 c5 d5
		ctx.VUNPCKHPS(g[3], g[2], tmp[3])   // c2 d2 c3 d3 | c6 d6 c7 d7
		ctx.VUNPCKLPD(tmp[2], tmp[0], g[0]) // tap 0 | tap 4
		ctx.VUNPCKHPD(tmp[2], tmp[0], g[1]) // tap 1 | tap 5
		ctx.VUNPCKLPD(tmp[3], tmp[1], g[2]) // tap 2 | tap 6
		ctx.VUNPCKHPD(tmp[3], tmp[1], g[3]) // tap 3 | tap 7
		ctx.VPERM2F128(operand.U8(0x20), g[1], g[0], tmp[0])
		ctx.VPERM2F128(operand.U8(0x20), g[3], g[2], tmp[1])
		ctx.VPERM2F128(operand.U8(0x31), g[1], g[0], tmp[2])
		ctx.VPERM2F128(operand.U8(0x31), g[3], g[2], tmp[3])
		for i := 0; i < 4; i++ {
			ctx.VMOVUPS(tmp[i], mem(dst, off+32*i))
		}
	}
	odd := reg.R8
	ctx.MOVQ(n, odd)
	ctx.ANDQ(operand.U32(1), odd)
	ctx.SHRQ(operand.U8(1), n)
	ctx.JZ(operand.LabelRef("last"))
	ctx.Label("taps")
	sums([][4]reg.VecPhysical{groupA, groupB})
	transposeStore(groupA, 0)
	transposeStore(groupB, 128)
	if pl.TapScale {
		ctx.ADDQ(operand.U32(64), scale)
	}
	ctx.ADDQ(operand.U32(64), w)
	ctx.ADDQ(operand.U32(256), dst)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("taps"))
	ctx.Label("last")
	ctx.TESTQ(odd, odd)
	ctx.JZ(operand.LabelRef("done"))
	sums([][4]reg.VecPhysical{groupA})
	transposeStore(groupA, 0)
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// emitSumKernel emits the sum of a channel for the mean pool: 32 floats
// per iteration into 4 YMM accumulators, then a horizontal sum.
//
//	SI x, CX groups of 32 left; Y0–Y3 sums.
func emitSumKernel(ctx *build.Context, name string) {
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr("func(x []float32) float32")
	ctx.Doc(name + " returns the sum of x[:len(x)&^31] (float32 partial sums).")
	x, n := reg.RSI, reg.RCX
	ctx.Load(ctx.Param("x").Base(), x)
	ctx.Load(ctx.Param("x").Len(), n)
	ctx.SHRQ(operand.U8(5), n)
	ys := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3}
	for _, y := range ys {
		ctx.VXORPS(y, y, y)
	}
	ctx.TESTQ(n, n)
	ctx.JZ(operand.LabelRef("done"))
	ctx.Label("loop")
	for i, y := range ys {
		ctx.VADDPS(mem(x, 32*i), y, y)
	}
	ctx.ADDQ(operand.U32(128), x)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	ctx.Label("done")
	ctx.VADDPS(ys[1], ys[0], ys[0])
	ctx.VADDPS(ys[3], ys[2], ys[2])
	ctx.VADDPS(ys[2], ys[0], ys[0])
	ctx.VEXTRACTF128(operand.U8(1), ys[0], reg.X1)
	ctx.VADDPS(reg.X1, reg.X0, reg.X0)
	ctx.VHADDPS(reg.X0, reg.X0, reg.X0)
	ctx.VHADDPS(reg.X0, reg.X0, reg.X0)
	ctx.VZEROUPPER()
	ctx.Store(reg.X0, ctx.ReturnIndex(0))
	ctx.RET()
}
