package gen

import (
	"fmt"
	"strings"

	"github.com/dygen/dygen/dyrt"
	"github.com/dygen/dygen/verify"
)

// AsmPlan is the configuration of a fixed-size layer's AVX2+FMA backend,
// computed in full before an instruction is emitted.
//
// Per sample, the input is packed (in Go) into phase planes: for row stride
// SH and column stride SW the padded input x̃ (padding mode applied) is split
// into SH·SW planes of Hq×Wq, plane (a, r) holding x̃[i·SH+a][j·SW+r]. The
// output plane is then read as one flat row of Ho·Wq pixels, q = oy·Wq+ox
// (the columns ox ≥ Wo are computed and thrown away), and tap (kh, kw) of
// output q reads the packed input at q + TapOff[kh·KW+kw]: eight consecutive
// outputs read eight contiguous floats, whatever the stride, dilation and
// padding, so the micro-kernel has no borders and no tails but the last
// vector of the plane.
//
// The micro-kernel computes M output channels × P vectors of 8 flat output
// pixels in M·P YMM accumulators, with P input vectors and one broadcast
// weight (M·P+P+1 ≤ 16; for M = 1 the FMAs read the input from memory and
// P may reach 14). It runs over CinG input channels, the KH·KW taps of each
// unrolled with constant offsets. The fused kernel is laid out
// [groups][blocks of M channels][CinG][KH][KW][M], so the M broadcasts of a
// tap are adjacent.
type AsmPlan struct {
	M, P   int  // channels × pixel vectors per block
	Mt     int  // channels of the tail block of a group (0: none)
	NBFull int  // full blocks of M channels per group
	MemFMA bool // FMAs take the input from memory (M = 1)

	Hq, Wq int // phase plane size
	PS     int // floats per packed input channel: SH·SW·Hq·Wq
	NV     int // vectors of 8 flat output pixels per channel: ceil(Ho·Wq/8)
	NPB    int // full pixel blocks per channel: NV / P
	Pt     int // vectors of each tail pixel block (0: none)
	Nt     int // tail pixel blocks: 1, or 2 when a one-vector tail is split (below)
	OPS    int // floats per output channel in the kernel's output: NV·8

	TapOff []int // per tap (kh, kw), offset into a packed channel, in floats
	MaxOff int   // largest TapOff

	// DirectIn: the layer has no padding and unit stride, so the packed
	// input is the sample itself (Hq = H, Wq = W) and no packing is needed.
	DirectIn bool
	// DirectOut: Wq = Wo and Ho·Wo is a multiple of 8, so the kernel writes
	// the sample's output in place; otherwise it writes an output scratch of
	// Cout·OPS floats that is copied out row by row.
	DirectOut bool
	InLen     int // packed input scratch length (0 with DirectIn)
	OutLen    int // output scratch length (0 with DirectOut)
	FusedLen  int // fused kernel length: Cout·Taps

	// Chunk is the number of pixel blocks one kernel call covers: the
	// driver runs every channel block over one chunk of pixels before the
	// next, so the chunk's input (about ChunkBytes) stays in L2 while the
	// weights are read from L1/L2.
	Chunk      int
	ChunkBytes int

	RowIdx []int32 // [SH][Hq]: input row of packed row (a, i), -1 for zeros
	ColIdx []int32 // [SW][Wq]: input column of packed column (r, j), -1 for zeros

	// ColRuns [SW], when every column phase has the shape of zero padding
	// (zeros, then input columns C0, C0+SW, … for N packed columns, then
	// zeros): the pack copies each row with strided loops instead of looking
	// up ColIdx per element. Nil otherwise (reflect, replicate, circular).
	ColRuns []ColRun
	// RunN is the common N of all ColRuns (-1 when they differ): the
	// phases of one input row are then written in one loop.
	RunN int
	// PackName is the assembly pack of column-stride-2 zero-padded layers
	// ("" otherwise: the pack stays in Go); RowRuns [SH] are then the row
	// phases' runs, of the same shape as ColRuns.
	PackName string
	RowRuns  []ColRun
	// CopyName is the assembly copy out of the kernel's flat rows (""
	// with DirectOut or rows narrower than 8: the copy stays in Go).
	CopyName string
	// CopyNT: rows of Wo are a multiple of 8 floats, so a second copy out
	// with non-temporal stores (for outputs larger than the L2) exists.
	CopyNT bool

	Kernels []AsmKernel // the micro-kernels the layer needs

	// FuseName is the assembly fusion of a block of 4 channels, 8 taps at a
	// time ("" when M ≠ 4 or Taps < 8: fusion stays in Go); Fuse8 is the
	// number of taps it covers, the rest being fused in Go.
	FuseName string
	Fuse8    int
	// SumName is the assembly channel sum of the mean pool.
	SumName string

	// PerChannel (depthwise: one input and one output channel per group):
	// the per-sample path packs, convolves and copies out one channel at a
	// time through a one-channel piece of the scratch, so the packed plane
	// and the kernel's output stay in L1 instead of streaming whole-sample
	// buffers through L2/L3 three times.
	PerChannel bool

	// OwnProcs: a one-sample call split over 2 … OwnProcs goroutines
	// gives each part its own copy of the input-side work, so that no core
	// reads, in one call, lines that another core wrote:
	//   - with a packed input, each part packs the whole input into its own
	//     buffer, then convolves its channel blocks. Shared, every line a
	//     core packs is one the other cores read during the previous call,
	//     so each store first invalidates their copies: on two cores that
	//     made the pack 8× slower than on one.
	//   - with OwnPixels (input read and output written in place), each
	//     part computes the routing and fusion of every output channel into
	//     its own buffers, then convolves a range of pixel blocks for every
	//     channel block: each core reads its part of the input, where a
	//     split by channel block streams all of it through every core.
	// The duplicated work costs procs × (pack, or routing + fusion), so
	// the limit keeps it at most 1/8 of a part's convolution by the model
	// in planOwn; with more goroutines (or OwnProcs < 2) the parts split
	// the channel blocks and share one packed input and fused kernel.
	OwnProcs  int
	OwnPixels bool
	// Own marks a layer with both splits (a pack, or OwnPixels); its
	// generated code keeps the own-work split even where OwnProcs < 2 so
	// that the tests, which raise OwnProcs, run it.
	Own bool
}

// AsmKernel is one emitted micro-kernel: M channels × P vectors.
type AsmKernel struct {
	Name string // Go identifier of the assembly function
	M, P int
	// InNeed and OutNeed are the slice lengths the kernel touches beyond
	// nblk·P·8: Go checks len(in) ≥ InNeed + nblk·P·8 and len(out) ≥
	// OutNeed + nblk·P·8 before entering it.
	InNeed, OutNeed int
	// PF > 0 marks a prefetching variant (batch path only): each input
	// channel iteration issues, for every expert k, PF PREFETCHT1s of
	// consecutive cache lines at pf + k·Cout·Taps floats, then moves on by
	// PF lines; Go checks len(pf) ≥ (K−1)·Cout·Taps + nblk·BatchPlan.PFNeed.
	PF int
	// PI, when set, marks an input-prefetching variant (convAsm's first
	// channel block of each chunk but the last): each input channel
	// iteration issues a PREFETCHT0 at every PI byte offset from the
	// channel's input pointer, which covers the pixel block of the next
	// chunk (PIDist bytes ahead) under every tap row, so that the next
	// chunk's first kernel call finds its input in cache instead of
	// stalling on one memory access per channel row. Its InNeed includes
	// the PIDist/4 floats the prefetches reach past the plain kernel's.
	PI     []int
	PIDist int
	// Act, when set (a dyrt constant name, Plan.Act), marks a kernel that
	// finishes each output as it stores it: the output is the layer's
	// (AsmPlan.DirectOut), so the epilogue is applied in registers. Res:
	// it adds the residual first, from a res argument laid out as out.
	Act string
	Res bool
}

// asmL2Budget is the input footprint a chunk of pixel blocks aims at.
const asmL2Budget = 128 << 10

// newAsmPlan returns the AVX2 plan of a fixed-size layer, or nil for a
// run-time-size one (whose backend is RTPlan).
func newAsmPlan(pl *Plan) *AsmPlan {
	if !pl.Fixed {
		return nil
	}
	p := pl.P
	a := &AsmPlan{}
	a.Hq = pl.Ho + (p.KH-1)*p.DH/p.SH
	a.Wq = pl.Wo + (p.KW-1)*p.DW/p.SW
	if modeIndex(p.Mode) == dyrt.ModeZeros {
		a.Wq = sharedWq(pl, a.Wq)
	}
	a.PS = p.SH * p.SW * a.Hq * a.Wq
	a.NV = (pl.Ho*a.Wq + 7) / 8
	a.OPS = a.NV * 8

	// Register blocking.
	coutG := pl.CoutG
	a.M, a.P, a.MemFMA = registerBlocking(coutG)
	a.P = min(a.P, a.NV)
	a.NBFull = coutG / a.M
	a.Mt = coutG % a.M
	a.NPB = a.NV / a.P
	a.Pt = a.NV % a.P
	a.Nt = min(a.Pt, 1)
	if a.Pt == 1 && a.NPB >= 1 && !a.MemFMA && a.P%2 == 1 {
		// A one-vector tail block keeps only M accumulators in flight,
		// too few to hide the FMA latency (it ran at half the speed of a
		// full block): the last full block and the tail become two blocks
		// of (P+1)/2 vectors.
		a.NPB--
		a.Pt, a.Nt = (a.P+1)/2, 2
	}

	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			ph, i0 := kh*p.DH%p.SH, kh*p.DH/p.SH
			pw, j0 := kw*p.DW%p.SW, kw*p.DW/p.SW
			off := ((ph*p.SW+pw)*a.Hq+i0)*a.Wq + j0
			a.TapOff = append(a.TapOff, off)
			a.MaxOff = max(a.MaxOff, off)
		}
	}
	// The last group's last channel reads up to (Cin−1)·PS + MaxOff + NV·8 − 1.
	inNeed := (p.InC-1)*a.PS + a.MaxOff + a.NV*8
	noPad := p.PadT == 0 && p.PadB == 0 && p.PadL == 0 && p.PadR == 0
	if noPad && p.SH == 1 && p.SW == 1 && inNeed <= p.InC*pl.H*pl.W {
		a.DirectIn = true
	} else {
		a.InLen = max(inNeed, p.InC*a.PS)
	}
	if a.Wq == pl.Wo && a.OPS == pl.Ho*pl.Wo {
		a.DirectOut = true
	} else {
		a.OutLen = p.OutC * a.OPS
	}
	a.FusedLen = p.OutC * pl.Taps

	// Chunk: the input a chunk of c pixel blocks reads is about
	// CinG · SH·SW · (c·P·8 + halo) floats, halo being the largest tap
	// offset inside one phase plane.
	halo := 0
	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			halo = max(halo, kh*p.DH/p.SH*a.Wq+kw*p.DW/p.SW)
		}
	}
	perPix := pl.CinG * p.SH * p.SW * 4
	c := (asmL2Budget/perPix - halo) / (a.P * 8)
	a.Chunk = dyrt.RoundChunk(c, a.NPB, ISAAVX512.chunkQuantum(a.M, a.P, a.MemFMA))
	a.ChunkBytes = perPix * (a.Chunk*a.P*8 + halo)

	hp, wp := pl.H+p.PadT+p.PadB, pl.W+p.PadL+p.PadR
	mode := modeIndex(p.Mode)
	for ph := 0; ph < p.SH; ph++ {
		for i := 0; i < a.Hq; i++ {
			a.RowIdx = append(a.RowIdx, padIdx(mode, i*p.SH+ph, hp, p.PadT, pl.H))
		}
	}
	for pw := 0; pw < p.SW; pw++ {
		for j := 0; j < a.Wq; j++ {
			a.ColIdx = append(a.ColIdx, padIdx(mode, j*p.SW+pw, wp, p.PadL, pl.W))
		}
	}

	a.ColRuns = colRuns(a.ColIdx, p.SW, a.Wq)
	a.RunN = -1
	for i, r := range a.ColRuns {
		if i == 0 {
			a.RunN = r.N
		} else if r.N != a.RunN {
			a.RunN = -1
			break
		}
	}
	planAsmPack(a, pl)

	add := func(m, pv int) {
		if m == 0 || pv == 0 {
			return
		}
		k := AsmKernel{
			Name:    fmt.Sprintf("%sConv%dx%d", lowerFirst(pl.Name), m, pv),
			M:       m,
			P:       pv,
			InNeed:  (pl.CinG-1)*a.PS + a.MaxOff,
			OutNeed: (m - 1) * a.OPS,
		}
		if a.DirectOut && pl.Epi {
			k.Act, k.Res = pl.Act, pl.Residual
		}
		a.Kernels = append(a.Kernels, k)
	}
	if a.M == 4 && pl.Taps >= 8 {
		a.FuseName = lowerFirst(pl.Name) + "Fuse4"
		a.Fuse8 = pl.Taps / 8 * 8
	}
	a.SumName = lowerFirst(pl.Name) + "Sum"
	a.PerChannel = pl.CinG == 1 && coutG == 1
	add(a.M, a.P)
	add(a.M, a.Pt)
	add(a.Mt, a.P)
	add(a.Mt, a.Pt)
	return a
}

// addInputPrefetch adds the input-prefetching variant of the M×P kernel
// (AsmKernel.PI) to a layer whose convAsm runs more than one chunk of
// pixel blocks: the offsets are those of the first, middle and last float
// of the next chunk's block under each distinct tap row, so they stay
// inside what the next chunk's kernels read.
func addInputPrefetch(pl *Plan) {
	a := pl.Asm
	if a == nil || a.PerChannel || a.MemFMA || a.Chunk >= a.NPB || pl.Batch != nil {
		return
	}
	k := a.Block(a.M, a.P)
	k.Name += "PI"
	k.PIDist = a.Chunk * a.P * 32
	k.InNeed += k.PIDist / 4 // the prefetches reach PIDist bytes further
	seen := map[int]bool{}
	for _, off := range a.TapOff {
		row := off - off%a.Wq // the tap's row start in its phase plane
		for _, d := range []int{0, a.P * 4, a.P*8 - 1} {
			b := k.PIDist + 4*(row+d)
			if !seen[b] {
				seen[b] = true
				k.PI = append(k.PI, b)
			}
		}
	}
	a.Kernels = append(a.Kernels, k)
}

// Throughputs of one core in the model that planOwn uses: the convolution
// (about 85 % of an AVX2 core's FMA peak) and the streaming of the pack and
// the fusion (measured for 3x3/2 64→128 @56: a pack of 860 KB in 26 µs).
const (
	modelConvFLOPsPerNs   = 100
	modelStreamBytesPerNs = 32
)

// ownDiv folds the model into one division: procs·dup ≤ conv/8, with
// conv = FLOPs / modelConvFLOPsPerNs and dup = 4·floats /
// modelStreamBytesPerNs nanoseconds, holds up to FLOPs / (ownDiv·floats)
// goroutines. The run-time-size driver (RTPlan.OwnDiv) divides by it too.
const ownDiv = 8 * 4 * modelConvFLOPsPerNs / modelStreamBytesPerNs

// planOwn sets AsmPlan.OwnProcs and OwnPixels: the largest number of
// goroutines at which the parts of a one-sample call each do the
// input-side work themselves, procs·dup ≤ conv/8, with conv and the
// duplicated work dup in nanoseconds by the model's throughputs. dup is the
// pack (the packed input's bytes) or, for a layer that reads its input and
// writes its output in place, the routing and fusion (the bytes of the
// experts and of the FC's weights). With a pack, OwnProcs is at least 2: on
// two cores a shared packed input costs more than a pack per part. OwnProcs
// stays 0 for depthwise layers (channel by channel) and layers that fuse in
// batch tiles.
func planOwn(pl *Plan) {
	a := pl.Asm
	if a == nil || a.PerChannel || pl.Batch != nil {
		return
	}
	p := pl.P
	var dup int // floats
	switch {
	case !a.DirectIn:
		dup = a.InLen
	case a.DirectOut && a.NPB >= 2:
		a.OwnPixels = true
		dup = p.K * p.OutC * (pl.Taps + p.InC)
	default:
		return
	}
	a.Own = true
	a.OwnProcs = pl.FLOPs(1, pl.H, pl.W) / (ownDiv * dup)
	if !a.OwnPixels {
		// On two cores a shared packed input costs more than a pack per
		// part whatever the layer (the shared pack ran 8× slower).
		a.OwnProcs = max(2, a.OwnProcs)
	}
}

// BlockPI returns the input-prefetching M×P kernel, or a zero AsmKernel
// when the layer has none.
func (a *AsmPlan) BlockPI() AsmKernel {
	for _, k := range a.Kernels {
		if k.PI != nil {
			return k
		}
	}
	return AsmKernel{}
}

// sharedWq returns the narrowest packed row width, from Wo up to full (the
// row with all its padding), at which a zero-padded layer's packed rows may
// share their zero columns: a packed row's right padding is then the next
// row's left padding. A tap that runs past the end of packed row i of
// column phase pw, at packed column j ≥ Wq, reads column j − Wq of the row
// after it; this is right only if padded column j·SW + pw is right padding
// (zero) and padded column (j − Wq)·SW + pw' is left padding for every
// phase pw' (zero; past a plane's last row the read lands on the first row
// of the next plane, whatever its phase, and past the last channel's in the
// packed input's tail beyond Cin·PS, which nothing writes: zero too). For
// column stride 1 this is max(Wo, W + max(PadL, PadR)).
func sharedWq(pl *Plan, full int) int {
	p := pl.P
	for wq := pl.Wo; wq < full; wq++ {
		ok := true
		for kw := 0; kw < p.KW && ok; kw++ {
			pw, j0 := kw*p.DW%p.SW, kw*p.DW/p.SW
			for j := max(wq, j0); j < pl.Wo+j0; j++ {
				if j*p.SW+pw < p.PadL+pl.W || (j-wq)*p.SW+p.SW-1 >= p.PadL {
					ok = false
					break
				}
			}
		}
		if ok {
			return wq
		}
	}
	return full
}

// registerBlocking returns the micro-kernel's M output channels × P
// vectors for a group of coutG output channels, and whether its FMAs read
// the input from memory (M = 1): M·P accumulators, P input vectors and a
// broadcast weight within 16 YMM registers, M dividing coutG when it can.
func registerBlocking(coutG int) (m, pv int, memFMA bool) {
	switch {
	case coutG == 1:
		return 1, 12, true
	case coutG%4 == 0:
		m, pv = 4, 3
	case coutG%6 == 0:
		m, pv = 6, 2
	case coutG%5 == 0:
		m, pv = 5, 2
	case coutG%3 == 0:
		m, pv = 3, 3
	case coutG%2 == 0:
		m, pv = 2, 4
	default:
		m, pv = 4, 3
	}
	return min(m, coutG), pv, false
}

// fuseInfo is what the fusion and mean pool templates need of this plan.
func (a *AsmPlan) fuseInfo() FuseInfo {
	return FuseInfo{a.M, a.Mt, a.NBFull, a.PerChannel, a.FuseName, a.Fuse8, a.SumName}
}

// ColRun is one column phase of a zero-padded pack: packed columns
// [J0, J0+N) read input columns C0 + (j−J0)·SW, the others are zeros.
type ColRun struct{ J0, N, C0 int }

// colRuns returns the ColRun of every column phase of idx ([sw][wq]), or nil
// when one phase is not of that shape.
func colRuns(idx []int32, sw, wq int) []ColRun {
	var runs []ColRun
	for pw := 0; pw < sw; pw++ {
		ph := idx[pw*wq:][:wq]
		j := 0
		for j < wq && ph[j] < 0 {
			j++
		}
		r := ColRun{J0: j}
		if j < wq {
			r.C0 = int(ph[j])
		}
		for j < wq && ph[j] >= 0 && int(ph[j]) == r.C0+(j-r.J0)*sw {
			j++
		}
		r.N = j - r.J0
		for ; j < wq; j++ {
			if ph[j] >= 0 {
				return nil
			}
		}
		runs = append(runs, r)
	}
	return runs
}

// padIdx maps padded coordinate v (0 ≤ v) of a padded extent np to the input
// index it reads, or -1 for a zero (padding zeros, or beyond the padded
// extent, where only discarded outputs read).
func padIdx(mode, v, np, pad, n int) int32 {
	if v >= np {
		return -1
	}
	return int32(dyrt.PadIndex(mode, v-pad, n))
}

func modeIndex(m string) int {
	switch m {
	case verify.Reflect:
		return dyrt.ModeReflect
	case verify.Replicate:
		return dyrt.ModeReplicate
	case verify.Circular:
		return dyrt.ModeCircular
	}
	return dyrt.ModeZeros
}

// Block returns the kernel for m channels × pv vectors.
func (a *AsmPlan) Block(m, pv int) AsmKernel {
	return a.block(m, pv, false)
}

// BlockPF returns the prefetching variant of Block(m, pv).
func (a *AsmPlan) BlockPF(m, pv int) AsmKernel {
	return a.block(m, pv, true)
}

func (a *AsmPlan) block(m, pv int, pf bool) AsmKernel {
	for _, k := range a.Kernels {
		if k.M == m && k.P == pv && (k.PF > 0) == pf && k.PI == nil {
			return k
		}
	}
	panic(fmt.Sprintf("dygen: no %dx%d kernel (bug)", m, pv))
}

// describe prints the AVX2 plan for people (part of Plan.Describe).
func (a *AsmPlan) describe(pl *Plan) string {
	if a == nil {
		return "  avx2 kernel: none\n"
	}
	var b strings.Builder
	p := pl.P
	describeBlocking(&b, "avx2 kernel", a.M, a.P, a.Mt, a.NBFull, a.MemFMA)
	fmt.Fprintf(&b, "; %d full pixel blocks, tail %d×%d vectors\n", a.NPB, a.Nt, a.Pt)
	if a.DirectIn {
		fmt.Fprintf(&b, "    input read in place (no padding, unit stride)\n")
	} else {
		fmt.Fprintf(&b, "    input packed per sample into %d×%d phase planes of %d×%d (%s padding): %d floats\n",
			p.SH, p.SW, a.Hq, a.Wq, p.Mode, a.InLen)
		switch {
		case a.PackName != "" && p.SW == 2:
			b.WriteString("    pack in assembly: 16 input floats split into the two column phases at a time\n")
		case a.PackName != "":
			b.WriteString("    pack in assembly: each row's run of input columns copied 8 floats at a time\n")
		case a.ColRuns != nil && p.SW > 1:
			b.WriteString("    pack in Go: strided row loops\n")
		}
	}
	fmt.Fprintf(&b, "    flat output row of %d×%d = %d vectors per channel", pl.Ho, a.Wq, a.NV)
	if a.DirectOut {
		b.WriteString(", written in place\n")
	} else {
		fmt.Fprintf(&b, ", into a %d-float scratch copied out\n", a.OutLen)
	}
	fmt.Fprintf(&b, "    tap offsets %v (max %d); %d pixel blocks per call (~%d KiB of input)\n",
		a.TapOff, a.MaxOff, a.Chunk, a.ChunkBytes>>10)
	if k := a.BlockPI(); k.PI != nil {
		fmt.Fprintf(&b, "    the first channel block of each chunk prefetches the next chunk's input, %d bytes ahead: %d PREFETCHT0 per input channel\n",
			k.PIDist, len(k.PI))
	}
	fmt.Fprintf(&b, "    fused kernel [groups %d][blocks][cin %d][kh %d][kw %d][channels of the block] = %d floats",
		p.Groups, pl.CinG, p.KH, p.KW, a.FusedLen)
	if a.FuseName != "" {
		fmt.Fprintf(&b, "; fusion in assembly for full blocks, 16 taps at a time (then 8) (%d of %d taps)\n", a.Fuse8, pl.Taps)
	} else {
		b.WriteString("; fusion in Go\n")
	}
	switch {
	case a.OwnProcs >= 2 && a.OwnPixels:
		fmt.Fprintf(&b, "    one sample split over 2–%d goroutines: each part routes and fuses every channel into its own buffers, then convolves a range of pixel blocks (more goroutines split the channel blocks)\n", a.OwnProcs)
	case a.OwnProcs >= 2:
		fmt.Fprintf(&b, "    one sample split over 2–%d goroutines: each part packs the whole input into its own buffer (more goroutines share one packed input)\n", a.OwnProcs)
	}
	if a.PerChannel {
		b.WriteString("    depthwise: per sample, pack, convolution and copy out one channel at a time (the channel's planes stay in L1)\n")
	}
	b.WriteString("    mean pool: channel sums in assembly (float32 partial sums, float64 total)\n")
	return b.String()
}

// describeBlocking prints a micro-kernel's register blocking for people.
func describeBlocking(b *strings.Builder, what string, m, pv, mt, nbFull int, memFMA bool) {
	regs := m*pv + pv + 1
	if memFMA {
		regs = m*pv + 1
	}
	fmt.Fprintf(b, "  %s: %d channels × %d vectors of 8 pixels per block (%d YMM of 16)", what, m, pv, regs)
	if memFMA {
		b.WriteString(", FMAs read the input from memory")
	}
	fmt.Fprintf(b, "; %d full blocks per group, tail block %d channels", nbFull, mt)
}
