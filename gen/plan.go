package gen

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/dygen/dygen/dyrt"
	"github.com/dygen/dygen/verify"
)

// Plan is everything the emitters need to know about one layer, computed
// before a line of code is written: shapes, the fused-kernel layout, the
// register blocking, the interior/border split and the sizes the generated
// tests use. Emitters read it and never redo shape arithmetic.
type Plan struct {
	Name     string        // exported Go identifier of the layer
	File     string        // base file name (snake case) for the layer's files
	P        verify.Params // resolved hyperparameters
	CinG     int           // input channels per group
	CoutG    int           // output channels per group
	Taps     int           // accumulation length of one output: CinG·KH·KW
	Fixed    bool          // spatial size fixed at generation time
	H, W     int           // fixed input size (0 when run-time)
	Ho, Wo   int           // fixed output size (0 when run-time)
	Interior Interior      // fixed interior (zero value when run-time)

	// Register blocking of the pure-Go convolution: OB output channels are
	// computed together, reading each input row once; a group's CoutG
	// channels form NB blocks, the last holding Tail channels.
	OB, NB, Tail int
	// UnrollKW: the kernel row is unrolled into straight-line code.
	UnrollKW bool
	// WholeKernel: the pure-Go kernel takes the whole KH×KW kernel of one
	// output channel in one pass over an output row per input channel, its
	// KH·KW weights held in registers: on every row of a fixed size (with
	// zero padding, in runs of rows with the same kernel rows inside the
	// input) and of any size with another padding mode; with a run-time
	// size and zero padding on the interior rows, the others taking one
	// kernel row at a time for OB channels. See wholeKernelOK and
	// wholeSegs.
	WholeKernel bool
	// WholeSegs are the output rows that take the whole-kernel pass, in
	// runs with their kernel rows (wholeSegs).
	WholeSegs []wholeSeg
	// PWChunk > 0: the pure-Go kernel of a pointwise layer (1x1, stride 1,
	// no padding, fixed size) sums PWChunk input channels per pass for one
	// output channel, their weights in registers, over tiles of PWTile
	// pixels of the flat plane (the last input channels in a shorter
	// pass). See pointwiseOK.
	PWChunk, PWTile int
	// FusedLen is the length of the fused kernel in the convolution's layout
	// [Groups][NB][CinG][KH][KW][OB] (the tail block's unused lanes stay 0).
	FusedLen int
	// UnrollK: the fusion's sum over experts is unrolled.
	UnrollK bool

	// Test and benchmark shapes chosen at generation time.
	TestSizes [][2]int // input sizes the differential test runs
	// TestTrials random weight sets, each run at the TestBatches batch
	// sizes: fewer for layers whose float64 reference is slow.
	TestTrials  int
	TestBatches []int
	BenchH      int // input size the benchmarks use
	BenchW      int
	FuzzMaxDim  int // largest H or W the fuzz target draws (run-time sizes)

	// The family and the epilogue (verify/family.go), as the generated
	// code needs them.
	//
	// Static: a plain conv, whose kernel is fused once when the layer is
	// built (no routing, no per-sample fusion).
	Static bool
	// External: routing_input external; the layer has no routing tensors
	// and only the routed forward.
	External bool
	// DyNetFC: the routing is DyNet's per-channel FC (and gate), computed
	// for ranges of output channels; the other routings compute one
	// per-sample vector (RoutingLen floats) that the channels then read.
	DyNetFC bool
	// SampleBias: condconv or dycnn with a bias; each sample's bias mixes
	// the experts' biases with its coefficients.
	SampleBias bool
	// TapScale: odconv; the fused kernel is scaled per tap (input channel
	// and kernel position) by α_c·α_s.
	TapScale bool
	// Act is the activation's dyrt constant (ActNone, ActReLU, …).
	Act string
	// Residual: the layer adds a residual before the activation.
	Residual bool
	// Epi: the output store finishes each output (activation or residual).
	Epi bool
	// EpiName is the assembly epilogue of the copies out (act(src + res)
	// into dst, 8 floats at a time); "" without an epilogue or assembly.
	EpiName string
	// RoutingLen is one sample's routing coefficients (Params.RoutingLen).
	RoutingLen int
	// Tensors are the layer's parameter tensors (Params.Tensors).
	Tensors []verify.Tensor
	// StateDict is where the loader reads the tensors (the spec's
	// state_dict); ConvPrefix, RoutingPrefix and BNPrefix are the names'
	// prefixes it gives (StateDict.Prefixes).
	StateDict                           StateDict
	ConvPrefix, RoutingPrefix, BNPrefix string

	// Asm is the AVX2+FMA backend's plan of a fixed-size layer
	// (asm_plan.go); nil for a run-time size (RT).
	Asm *AsmPlan
	// Batch is the batch-aware fusion of the AVX2 path (batch_plan.go);
	// nil when samples are fused one by one.
	Batch *BatchPlan
	// RT is the AVX2 backend of a run-time-size layer (rt_plan.go); nil
	// for a fixed size.
	RT *RTPlan
}

// Interior is the range of outputs whose every tap reads inside the input,
// so the kernel reads them without bounds or padding checks; outputs outside
// it are borders. Lo ≤ Hi always; an empty interior has Lo == Hi.
type Interior struct {
	OyLo, OyHi, OxLo, OxHi int
}

// NewPlan computes the plan of one layer.
func NewPlan(l Layer) (*Plan, error) {
	p := l.Params
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("layer %q: %w", l.Name, err)
	}
	p = p.WithDefaults()
	pl := &Plan{
		Name:  l.Name,
		File:  snakeCase(l.Name),
		P:     p,
		CinG:  p.InPerGroup(),
		CoutG: p.OutPerGroup(),
		Taps:  p.Taps(),
		Fixed: l.Fixed(),

		Static:     p.Routing == verify.Static,
		External:   p.ExternalRouting,
		DyNetFC:    p.Routing == verify.DyNet,
		SampleBias: p.Bias && (p.Routing == verify.CondConv || p.Routing == verify.DyCNN),
		TapScale:   p.Routing == verify.ODConv,
		Act:        actName(p.Activation),
		Residual:   p.Residual,
		Epi:        p.Residual || p.Activation != verify.ActNone,
		RoutingLen: p.RoutingLen(),
		Tensors:    p.Tensors(),
		StateDict:  l.StateDict,
	}
	pl.ConvPrefix, pl.RoutingPrefix, pl.BNPrefix = l.StateDict.Prefixes(p)
	if pl.Fixed {
		if err := p.CheckInput(l.InputH, l.InputW); err != nil {
			return nil, fmt.Errorf("layer %q: input_size %dx%d: %w", l.Name, l.InputH, l.InputW, err)
		}
		pl.H, pl.W = l.InputH, l.InputW
		pl.Ho, pl.Wo = p.OutputSize(pl.H, pl.W)
		pl.Interior = interiorOf(p, pl.H, pl.W)
	}

	// Register budget of the Go kernel: amd64 gives the Go compiler 15
	// usable float registers. The unrolled row holds OB·KW weights, KW
	// inputs and OB partial sums.
	pl.UnrollKW = p.KW <= 16
	pl.WholeKernel = wholeKernelOK(p)
	pl.WholeSegs = wholeSegs(pl)
	if pl.Fixed && pointwiseOK(p) {
		pl.PWChunk, pl.PWTile = min(9, pl.CinG), min(pwTile, pl.Ho*pl.Wo)
	}
	ob := 6 // one tap at a time: OB weights, one input, OB sums
	if pl.UnrollKW {
		ob = 12 / (p.KW + 1)
	}
	ob = max(1, min(ob, 8, pl.CoutG))
	pl.OB = ob
	pl.NB = (pl.CoutG + ob - 1) / ob
	pl.Tail = pl.CoutG - (pl.NB-1)*ob
	pl.FusedLen = p.Groups * pl.NB * pl.CinG * p.KH * p.KW * ob
	pl.UnrollK = p.K <= 8

	pl.TestSizes, pl.BenchH, pl.BenchW = testShapes(p, pl)
	if len(pl.TestSizes) == 0 {
		return nil, fmt.Errorf("layer %q: found no valid input size to test (this is a bug in dygen)", l.Name)
	}
	// The reference spends a few float64 operations per multiply-add; keep
	// the differential test of a heavy layer to a few hundred million.
	macs := pl.P.OutC * pl.Taps
	if pl.Fixed {
		macs *= pl.Ho * pl.Wo
	} else {
		macs *= 64
	}
	pl.TestTrials, pl.TestBatches = 2, []int{1, 3}
	if macs > 20_000_000 {
		pl.TestTrials, pl.TestBatches = 1, []int{2}
	}
	pl.FuzzMaxDim = 12
	pl.Asm = newAsmPlan(pl)
	pl.Batch = newBatchPlan(pl)
	addInputPrefetch(pl)
	planOwn(pl)
	pl.RT = newRTPlan(pl)
	if pl.Epi && pl.HasAsm() {
		pl.EpiName = lowerFirst(pl.Name) + "Epi"
	}
	return pl, nil
}

// wholeKernelOK reports whether the pure-Go kernel takes a layer's whole
// kernel per pass (Plan.WholeKernel). Go's amd64 float code has 15 usable
// registers: KH·KW ≤ 9 weights, a product, a kernel row's sum and the sums
// of the rows before it fit without spills. Per output and input channel
// that pass has one load, one MULSS and one ADDSS per tap, one store and the
// loop control: 31 instructions for the 18 FLOPs of a 3x3, against 36 when
// each kernel row is its own pass for 3 channels (which reloads and stores
// the sums per kernel row). A 1x1, or one kernel row (KH 1), has nothing to
// gain: there the row pass for OB channels reads each input once for all of
// them.
func wholeKernelOK(p verify.Params) bool {
	return p.KH > 1 && p.KH*p.KW <= 9
}

// wholeSeg is a run of output rows [Lo, Hi) whose kernel rows [KhLo, KhHi)
// read inside the input (with zero padding the others read zeros).
type wholeSeg struct{ Lo, Hi, KhLo, KhHi int }

// wholeSegs lists the output rows that take the whole-kernel pass
// (Plan.WholeKernel), in order; rows in no segment take a kernel row at a
// time. A padding mode other than zeros maps every tap inside the input:
// one segment of every row with every kernel row, whatever the size. A
// fixed size with zero padding: every row, in runs of equal kernel-row
// ranges (a row whose taps all read padding keeps its bias). A run-time
// size with zero padding: the interior rows only, computed per call (Hi = -1).
func wholeSegs(pl *Plan) []wholeSeg {
	p := pl.P
	switch {
	case !pl.WholeKernel:
		return nil
	case p.Mode != verify.Zeros:
		return []wholeSeg{{0, pl.Ho, 0, p.KH}}
	case !pl.Fixed:
		return []wholeSeg{{-1, -1, 0, p.KH}}
	}
	var segs []wholeSeg
	for oy := 0; oy < pl.Ho; oy++ {
		lo, hi := 0, 0
		for kh := 0; kh < p.KH; kh++ {
			if iy := oy*p.SH + kh*p.DH - p.PadT; iy >= 0 && iy < pl.H {
				if hi == 0 {
					lo = kh
				}
				hi = kh + 1
			}
		}
		if n := len(segs); n > 0 && segs[n-1].KhLo == lo && segs[n-1].KhHi == hi {
			segs[n-1].Hi = oy + 1
			continue
		}
		segs = append(segs, wholeSeg{oy, oy + 1, lo, hi})
	}
	return slices.DeleteFunc(segs, func(s wholeSeg) bool { return s.KhLo == s.KhHi })
}

// pointwiseOK reports whether a layer is pointwise for the pure-Go kernel
// (Plan.PWChunk): 1x1, stride 1, no padding, so that an output plane is the
// same flat range of every input plane. The pass is the whole-kernel pass's
// loop with input channels for taps: 9 loads, 9 MULSS, 9 ADDSS, one store
// per 18 FLOPs, against a load, a store and a copy per multiply-add when
// each input channel is its own pass for OB channels (1x1 256→64 @56 in an
// isolated loop on Zen 5: 6.9 → 10.3 GFLOP/s). It needs the plane size as
// a constant: one slice with constant offsets reads the 9 input planes (a
// slice per plane took more general registers than Go has and reloaded
// their pointers from the stack in the loop), so run-time sizes keep the
// row pass.
func pointwiseOK(p verify.Params) bool {
	return p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 &&
		p.PadT == 0 && p.PadB == 0 && p.PadL == 0 && p.PadR == 0
}

// pwTile is the most pixels per tile of the pointwise pass: a tile's 9
// input rows and OB output rows stay in L1.
const pwTile = 512

func interiorOf(p verify.Params, h, w int) Interior {
	ho, wo := p.OutputSize(h, w)
	var in Interior
	in.OyLo, in.OyHi = dyrt.InteriorRange(h, ho, p.KH, p.SH, p.PadT, p.DH)
	in.OxLo, in.OxHi = dyrt.InteriorRange(w, wo, p.KW, p.SW, p.PadL, p.DW)
	return in
}

// testShapes picks the input sizes the generated tests exercise: the fixed
// size, or for run-time layers a spread of valid sizes that includes the
// smallest valid one, 1×1 where valid, non-square and odd sizes, and one
// with a non-empty interior.
func testShapes(p verify.Params, pl *Plan) (sizes [][2]int, bh, bw int) {
	if pl.Fixed {
		return [][2]int{{pl.H, pl.W}}, pl.H, pl.W
	}
	minH := minValid(p.KH, p.DH, p.PadT, p.PadB, p.Mode)
	minW := minValid(p.KW, p.DW, p.PadL, p.PadR, p.Mode)
	cands := [][2]int{
		{minH, minW}, {1, 1}, {minH + 1, minW + 2}, {minH + 4, minW + 3},
		// 6×8 for a 1x1 layer without padding: two whole blocks of 3
		// vectors and no partial one, for the assembly that reads the
		// input in place (RTPlan.DirectIn).
		{minH + 5, minW + 7},
		{minH + p.DH*(p.KH-1) + 5, minW + p.DW*(p.KW-1) + 6}, // last: the size Threads and Variants run
	}
	seen := map[[2]int]bool{}
	for _, c := range cands {
		if seen[c] || p.CheckInput(c[0], c[1]) != nil {
			continue
		}
		seen[c] = true
		sizes = append(sizes, c)
	}
	bh, bw = max(32, minH), max(32, minW)
	return sizes, bh, bw
}

// minValid is the smallest input extent that the layer accepts along one
// dimension.
func minValid(k, dil, padLo, padHi int, mode string) int {
	n := max(1, dil*(k-1)+1-padLo-padHi)
	switch mode {
	case verify.Reflect:
		n = max(n, padLo+1, padHi+1)
	case verify.Circular:
		n = max(n, padLo, padHi)
	}
	return n
}

// actName is the dyrt constant of an activation.
func actName(act string) string {
	switch act {
	case verify.ActReLU:
		return "ActReLU"
	case verify.ActReLU6:
		return "ActReLU6"
	case verify.ActHardswish:
		return "ActHardswish"
	case verify.ActSiLU:
		return "ActSiLU"
	case verify.ActSigmoid:
		return "ActSigmoid"
	}
	return "ActNone"
}

// snakeCase turns a Go identifier into a file-name stem: Conv3x3Stem →
// conv3x3_stem.
func snakeCase(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				(i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FLOPs is the layer's FLOP count for n samples of h×w, as the project
// defines it: 2·N·Cout·(Cin/groups)·KH·KW·Ho·Wo.
func (pl *Plan) FLOPs(n, h, w int) int {
	ho, wo := pl.P.OutputSize(h, w)
	return 2 * n * pl.P.OutC * pl.Taps * ho * wo
}

// describeRouting says how the layer's routing is computed, per variant.
func (pl *Plan) describeRouting() string {
	p := pl.P.WithDefaults()
	pool := fmt.Sprintf("mean pool of the %d input channels", p.InC)
	var head string
	switch p.Routing {
	case verify.Static:
		return "  routing: none (static conv: the weights are fused once, at load)\n"
	case verify.DyNet:
		head = fmt.Sprintf("FC %d→%d, %s over %d experts per output channel", p.InC, p.K*p.OutC, p.Gate, p.K)
		if p.Gate == verify.Sigmoid {
			head = fmt.Sprintf("FC %d→%d, sigmoid per expert and output channel", p.InC, p.K*p.OutC)
		}
	case verify.CondConv:
		head = fmt.Sprintf("routing_fn %d→%d, sigmoid (one weight per expert)", p.InC, p.K)
	case verify.DyCNN:
		head = fmt.Sprintf("fc1 %d→%d, ReLU, fc2 →%d, softmax(z/T) with T = %g", p.InC, p.AttnC, p.K, p.Temperature)
	case verify.ODConv:
		filter, spatial, kernel := p.ODHeads()
		heads := []string{fmt.Sprintf("channel σ [%d]", p.InC)}
		if filter {
			heads = append(heads, fmt.Sprintf("filter σ [%d]", p.OutC))
		}
		if spatial {
			heads = append(heads, fmt.Sprintf("spatial σ [%d]", p.KH*p.KW))
		}
		if kernel {
			heads = append(heads, fmt.Sprintf("kernel softmax [%d]", p.K))
		}
		head = fmt.Sprintf("fc %d→%d, BN, ReLU, heads %s, all over T = %g", p.InC, p.AttnC, strings.Join(heads, ", "), p.Temperature)
	}
	if p.ExternalRouting {
		return fmt.Sprintf("  routing: external (routing_input: external): ForwardRouted reads %d floats per sample, computed elsewhere as %s, %s\n", pl.RoutingLen, pool, head)
	}
	return fmt.Sprintf("  routing: %s, %s → %d floats per sample (Route writes them)\n", pool, head, pl.RoutingLen)
}

// describeEpilogue says what follows the conv and where it is computed.
func (pl *Plan) describeEpilogue() string {
	p := pl.P.WithDefaults()
	var steps []string
	if p.Routing == verify.ODConv {
		steps = append(steps, "ODConv's attentions folded into each sample's fused kernel (α_w·α_f per expert and output channel, α_c·α_s per tap)")
	}
	if p.BatchNorm {
		steps = append(steps, fmt.Sprintf("BatchNorm (eps %g) folded into the experts and the bias at load", p.BNEps))
	}
	if p.Residual {
		steps = append(steps, "+ residual")
	}
	if p.Activation != verify.ActNone {
		steps = append(steps, p.Activation)
	}
	if len(steps) == 0 {
		return "  epilogue: none\n"
	}
	where := ""
	switch {
	case pl.Residual && p.Activation != verify.ActNone:
		where = "; the residual and the activation are applied as the kernels store their outputs"
	case pl.Residual:
		where = "; the residual is added as the kernels store their outputs"
	case p.Activation != verify.ActNone:
		where = "; the activation is applied as the kernels store their outputs"
	}
	return "  epilogue: " + strings.Join(steps, ", then ") + where + "\n"
}

// Describe prints the plan for people (dygen plan).
func (pl *Plan) Describe() string {
	var b strings.Builder
	p := pl.P
	fmt.Fprintf(&b, "layer %s (files %s_dygen*.go)\n", pl.Name, pl.File)
	fmt.Fprintf(&b, "  %s\n", p)
	if pl.Fixed {
		fmt.Fprintf(&b, "  input  [N, %d, %d, %d] fixed\n", p.InC, pl.H, pl.W)
		fmt.Fprintf(&b, "  output [N, %d, %d, %d]\n", p.OutC, pl.Ho, pl.Wo)
		in := pl.Interior
		fmt.Fprintf(&b, "  interior rows [%d,%d) of %d, columns [%d,%d) of %d (no padding checks); the rest are borders\n",
			in.OyLo, in.OyHi, pl.Ho, in.OxLo, in.OxHi, pl.Wo)
		fmt.Fprintf(&b, "  FLOPs per sample %d\n", pl.FLOPs(1, pl.H, pl.W))
	} else {
		fmt.Fprintf(&b, "  input  [N, %d, H, W] run-time size; interior computed per call\n", p.InC)
	}
	fmt.Fprintf(&b, "  groups %d: %d input and %d output channels each; %d taps per output\n", p.Groups, pl.CinG, pl.CoutG, pl.Taps)
	b.WriteString(pl.describeRouting())
	b.WriteString(pl.describeEpilogue())
	fmt.Fprintf(&b, "  fusion: sum of %d experts (unrolled: %v) into [groups %d][blocks %d][cin %d][kh %d][kw %d][lanes %d] = %d floats\n",
		p.K, pl.UnrollK, p.Groups, pl.NB, pl.CinG, p.KH, p.KW, pl.OB, pl.FusedLen)
	fmt.Fprintf(&b, "  go kernel: %d output channels per block (%d blocks per group, tail %d), kernel row unrolled: %v\n",
		pl.OB, pl.NB, pl.Tail, pl.UnrollKW)
	if pl.PWChunk > 0 {
		fmt.Fprintf(&b, "  go kernel: pointwise, %d input channels per pass for one output channel (weights in registers), tiles of %d of the %d pixels\n",
			pl.PWChunk, pl.PWTile, pl.Ho*pl.Wo)
	}
	if pl.WholeKernel {
		fmt.Fprintf(&b, "  go kernel: the whole %dx%d kernel per pass, one output channel at a time, %d weights in registers, on %s\n",
			p.KH, p.KW, p.KH*p.KW, wholeKernelRows(pl))
	}
	if pl.RT != nil {
		b.WriteString(pl.RT.describe(pl))
	} else {
		b.WriteString(pl.Asm.describe(pl))
	}
	if pl.Asm != nil {
		b.WriteString(pl.Batch.describe())
	}
	b.WriteString(describeTier(pl, ISAAVX512))
	b.WriteString(describeNEON(pl))
	return b.String()
}

// HasAsm reports whether the layer has an AVX2 backend (fixed or run-time
// size).
func (pl *Plan) HasAsm() bool { return pl.Asm != nil || pl.RT != nil }

// OwnSplit reports whether the assembly path has the one-sample split that
// gives each part its own input-side work (AsmPlan.OwnProcs; every
// run-time-size layer has it, with a limit computed per input size).
func (pl *Plan) OwnSplit() bool { return pl.Asm != nil && pl.Asm.Own || pl.RT != nil }

// OwnPixels reports whether that split is by pixels (AsmPlan.OwnPixels).
func (pl *Plan) OwnPixels() bool { return pl.Asm != nil && pl.Asm.OwnPixels }

// FuseInfo is what the assembly fusion and mean pool (templates/fuse.tmpl)
// need of either backend.
type FuseInfo struct {
	M, Mt, NBFull int
	PerChannel    bool
	FuseName      string
	Fuse8         int
	SumName       string
}

// FuseInfo returns the fusion parameters of the layer's AVX2 backend.
func (pl *Plan) FuseInfo() FuseInfo {
	if pl.Asm != nil {
		return pl.Asm.fuseInfo()
	}
	return pl.RT.fuseInfo()
}

// BatchTiles is the batch-aware fusion of either backend, or nil.
func (pl *Plan) BatchTiles() *BatchPlan {
	if pl.RT != nil {
		return pl.RT.Batch
	}
	return pl.Batch
}
