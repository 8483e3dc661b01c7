package gen

import (
	"fmt"
	"strings"
)

// VecISA describes one vector target of the assembly backends (fixed and
// run-time sizes): what the planner, the Go-side templates and the
// emitters read about it.
// The plan's unit is a vector of 8 flat output pixels whatever the ISA; an
// ISA holds it in RegsPerVector() registers of Lanes floats (one YMM on AVX2,
// a pair of 128-bit Q registers on NEON), so the plan's blocking, chunking,
// tap offsets, packed and fused layouts and the Go drivers are one for all
// rows. What differs is data here: registers, how a weight reaches the
// FMAs, which side kernels exist, the build constraint and the CPU check.
type VecISA struct {
	Name    string // variant name in tests and benchmarks: "avx2", "neon"
	Label   string // in messages: "AVX2", "NEON"
	What    string // in comments: "AVX2+FMA", "NEON"
	GOARCH  string
	Build   string // the backend files' //go:build expression
	FileTag string // in the backend files' names: <layer>_<FileTag>_dygen.s

	// CPUCheck is the Go expression that tells whether this CPU runs the
	// kernels; CPUImport: it needs golang.org/x/sys/cpu.
	CPUCheck  string
	CPUImport bool

	Lanes   int // floats per vector register
	VecRegs int // vector registers the kernels may use

	// How an FMA gets its operands:
	//   MemFMA: the input vector may come from memory (x86);
	//   ElemFMA: FMA by element, one register holds Lanes weights (NEON),
	//   else one broadcast register holds one weight at a time (AVX2).
	MemFMA, ElemFMA bool

	// The side kernels this row has in assembly; the plan leaves the others
	// in Go (the Go drivers have both paths): the fixed sizes' pack, the
	// copy out of the kernel's flat rows, the streaming epilogue of those
	// copies.
	Pack, Copy, EpiStream bool
	// CopyNT: a copy out with non-temporal stores (fixed sizes).
	CopyNT bool
	// RTPack, RTCopy: the run-time sizes' pack (one call over every
	// channel, zero padding) and copy out; RTGather: the column gather of
	// the Go pack of stride-2 layers (where there is no RTPack).
	RTPack, RTCopy, RTGather bool

	// Over, when set, makes this row a kernel tier of another row (AVX-512
	// over AVX2): it has its own micro-kernels, with the same signatures
	// and contracts (the same nblk·P·8 pixels) but blocked its own way
	// (wideBlock), and runs them with that row's Go drivers, plan and side
	// kernels; the layer's checked kernel wrappers choose between the two
	// at run time. KernelSuffix is appended to its kernels' names.
	Over         *VecISA
	KernelSuffix string
}

// ISAs are the vector targets, in the order the generator emits them.
var ISAs = []*VecISA{ISAAVX2, ISANEON, ISAAVX512}

// ISAAVX2 is amd64's AVX2+FMA row.
var ISAAVX2 = &VecISA{
	Name: "avx2", Label: "AVX2", What: "AVX2+FMA", GOARCH: "amd64",
	Build: "amd64 && !purego", FileTag: "amd64",
	CPUCheck: "cpu.X86.HasAVX2 && cpu.X86.HasFMA", CPUImport: true,
	Lanes: 8, VecRegs: 16,
	MemFMA: true,
	Pack:   true, Copy: true, EpiStream: true, CopyNT: true, RTPack: true, RTCopy: true, RTGather: true,
}

// ISANEON is arm64's ASIMD row: 32 registers of 4 floats, FMA by element
// (a WORD: Go's assembler spells only the vector form), no memory operands.
// ASIMD is architectural on arm64, so there is no run-time check.
var ISANEON = &VecISA{
	Name: "neon", Label: "NEON", What: "NEON", GOARCH: "arm64",
	Build: "arm64 && !purego", FileTag: "arm64",
	CPUCheck: "true",
	Lanes:    4, VecRegs: 32,
	ElemFMA: true,
	Pack:    true, Copy: true, RTPack: true, RTCopy: true, RTGather: true,
}

// ISAAVX512 is amd64's AVX-512F row, a kernel tier over AVX2: 32 ZMM
// registers of 16 floats, embedded broadcasts for the epilogue's
// constants, an opmask for the last half vector. Its micro-kernels run where the CPU has
// AVX-512F and dyrt.AVX512 holds (a full-width 512-bit FMA); pack, fusion,
// pool sums, routing FC and copy out stay AVX2's.
var ISAAVX512 = &VecISA{
	Name: "avx512", Label: "AVX-512", What: "AVX-512F", GOARCH: "amd64",
	Build: "amd64 && !purego", FileTag: "amd64_avx512",
	CPUCheck: "cpu.X86.HasAVX512F", CPUImport: true,
	Lanes: 16, VecRegs: 32,
	MemFMA: true,
	Over:   ISAAVX2, KernelSuffix: "AVX512",
}

// RegsPerVector is the registers that hold one vector of 8 pixels (one,
// or half of one, on AVX-512).
func (isa *VecISA) RegsPerVector() int { return max(1, 8/isa.Lanes) }

// kernelName is this row's name of the micro-kernel the plan calls name.
func (isa *VecISA) kernelName(name string) string { return name + isa.KernelSuffix }

// wideBlock returns the vectors of Lanes pixels in a main block of a tier
// row's micro-kernel of m channels: as many as fit M accumulators, an input
// register per vector and the broadcast weight, at most 12; with memFMA
// (depthwise: one channel) 12, whose runs of taps take 12 accumulators,
// 13 row vectors, the shifted one and the weight (bodyRegs). At least 3
// registers stay free for the epilogue once the accumulators are complete.
func (isa *VecISA) wideBlock(m int, memFMA bool) int {
	if memFMA {
		return 12
	}
	return min(12, (isa.VecRegs-1)/(m+1))
}

// MinUnits is the vectors of 8 pixels of one of this row's vectors: a
// channel row shorter than that does not get a tier row's kernels
// (Plan.TierOK; the run-time setSize checks it per size).
func (isa *VecISA) MinUnits() int { return max(1, isa.Lanes/8) }

// chunkQuantum returns the pixel blocks of p vectors of 8 pixels that make
// whole main blocks of this tier row's m-channel kernel (dyrt.RoundChunk
// rounds a call's blocks to a multiple of it): 2·wideBlock/gcd(p,
// 2·wideBlock). 1 for a row that blocks pixels as the plan does.
func (isa *VecISA) chunkQuantum(m, p int, memFMA bool) int {
	if isa.Over == nil {
		return 1
	}
	u := 2 * isa.wideBlock(m, memFMA) // vectors of 8 pixels per main block
	a, b := u, p
	for b != 0 {
		a, b = b, a%b
	}
	return u / a
}

// blockedAs says, for comments, how a tier row blocks a kernel's pixels
// ("" for a row that blocks them as the plan does).
func (isa *VecISA) blockedAs(m int, memFMA bool) string {
	if isa.Over == nil {
		return ""
	}
	return fmt.Sprintf(" (%s: blocks of %d vectors of %d pixels, then one block of each power of two below, the last half vector masked)", isa.Label, isa.wideBlock(m, memFMA), isa.Lanes)
}

// KernelRegs returns the vector registers an M×P micro-kernel of this ISA
// needs: M·P accumulator vectors and, unless the FMAs read the input from
// memory, P input vectors (RegsPerVector() registers each), plus the
// weights: one broadcast register, or with FMA by element two registers of
// Lanes weights (each loaded at the first weight it must hold, so two
// cover a tap's M ≤ 2·Lanes weights). With
// memFMA on an ISA without memory operands the input vectors are loaded
// into a rotation of three vectors instead.
func (isa *VecISA) KernelRegs(m, pv int, memFMA bool) int {
	in := pv
	switch {
	case memFMA && isa.MemFMA:
		in = 0
	case memFMA:
		in = min(pv, 3)
	}
	w := 1
	if isa.ElemFMA {
		w = 2
	}
	return (m*pv+in)*isa.RegsPerVector() + w
}

// checkBlocking panics when the plan's blocking does not fit isa's
// registers (a bug in the planner).
func (isa *VecISA) checkBlocking(m, pv int, memFMA bool) {
	if n := isa.KernelRegs(m, pv, memFMA); n > isa.VecRegs {
		panic(fmt.Sprintf("dygen: %d×%d kernel needs %d %s registers of %d (bug)", m, pv, n, isa.Label, isa.VecRegs))
	}
}

// ForISA returns the view of pl that isa's backend files are generated
// from: the same plan with the side kernels isa lacks left to Go (the pack,
// the copy out and its epilogue: the driver templates have both paths).
// Nil when the layer has no assembly backend at all.
func (pl *Plan) ForISA(isa *VecISA) *Plan {
	if !pl.HasAsm() {
		return nil
	}
	if isa == ISAAVX2 || isa.Over != nil {
		return pl // a tier runs its base row's view
	}
	v := *pl
	if !isa.EpiStream {
		v.EpiName = ""
	}
	if pl.RT != nil {
		r := *pl.RT
		r.Kernels = append([]AsmKernel(nil), pl.RT.Kernels...)
		if !isa.RTPack && r.PackName != "" {
			r.PackName, r.PackGeomLen = "", 0
			if pl.P.SW == 2 && !r.DirectIn {
				r.GatherName = lowerFirst(pl.Name) + "Gather2"
			}
		}
		if !isa.RTGather {
			r.GatherName = ""
		}
		if !isa.RTCopy {
			r.CopyName = ""
		}
		for _, k := range r.Kernels {
			isa.checkBlocking(k.M, k.P, r.MemFMA)
		}
		v.RT = &r
		return &v
	}
	a := *pl.Asm
	a.Kernels = append([]AsmKernel(nil), pl.Asm.Kernels...)
	if !isa.Pack {
		a.PackName, a.RowRuns = "", nil
	}
	if !isa.Copy {
		a.CopyName = ""
	}
	if !isa.CopyNT {
		a.CopyNT = false
	}
	for _, k := range a.Kernels {
		isa.checkBlocking(k.M, k.P, a.MemFMA)
	}
	v.Asm = &a
	return &v
}

// TierOK reports whether the layer gets tier isa's micro-kernels (isa.Over
// set: AVX-512 over AVX2). A fixed-size layer does when one output
// channel's flat row holds at least one whole vector of the tier (two
// vectors of 8 pixels): below that its kernel would do AVX2's work in half
// a vector. Shorter rows than a main block are fine since the tails take
// the last half vector into their own block: on Zen 5, 3x3 512@7 (7
// vectors of 8 pixels against blocks of 12) runs at 75 and 94 GFLOP/s
// (N=1, 8) with AVX-512 against 67 and 72 with AVX2; before that change
// its AVX-512 kernels were the slower (55.9 against 60.7) and the rule was
// a whole main block. Run-time-size layers always get the kernels, and
// apply the rule per input size (setSize).
func (pl *Plan) TierOK(isa *VecISA) bool {
	if isa.Over == nil || pl.ForISA(isa.Over) == nil {
		return false
	}
	if a := pl.Asm; a != nil {
		return a.NV >= isa.MinUnits()
	}
	return pl.RT != nil
}

// describeTier prints a kernel tier's view of the plan for people: its
// blocking of each micro-kernel, or why the layer keeps its base row's.
func describeTier(pl *Plan, isa *VecISA) string {
	if isa.Over == nil || pl.ForISA(isa.Over) == nil {
		return ""
	}
	var b strings.Builder
	m, memFMA, kernels := 0, false, []AsmKernel(nil)
	if pl.RT != nil {
		m, memFMA, kernels = pl.RT.M, pl.RT.MemFMA, pl.RT.Kernels
	} else {
		m, memFMA, kernels = pl.Asm.M, pl.Asm.MemFMA, pl.Asm.Kernels
	}
	pz := isa.wideBlock(m, memFMA)
	if !pl.TierOK(isa) {
		fmt.Fprintf(&b, "  %s kernel: none: one channel's flat row (%d vector of 8 pixels) is shorter than one %d-pixel vector, so the layer runs %s's kernels on every CPU\n",
			strings.ToLower(isa.Name), pl.Asm.NV, isa.Lanes, isa.Over.Label)
		return b.String()
	}
	regs := bodyRegs(m, pz, memFMA, memFMA)
	fmt.Fprintf(&b, "  %s kernel (%s, where the CPU's 512-bit FMA is full width): %d channels × %d vectors of %d pixels per main block (%d of %d ZMM",
		isa.Name, isa.What, m, pz, isa.Lanes, regs, isa.VecRegs)
	if memFMA {
		b.WriteString(", each run of taps' inputs loaded once and shifted with VALIGND")
	}
	fmt.Fprintf(&b, "), then blocks of %v vectors (the last half vector under K1 in the last block); same calls, pixels and fused layout as %s\n", wideTails(pz), isa.Over.Label)
	var names []string
	for _, k := range kernels {
		if k.PI == nil {
			names = append(names, isa.kernelName(k.Name))
		}
	}
	fmt.Fprintf(&b, "    %s kernels: %s; pack, fusion, pool sums, routing FC and copy out stay %s\n", isa.Label, strings.Join(names, ", "), isa.Over.Label)
	return b.String()
}
