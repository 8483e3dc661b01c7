package gen

import (
	"fmt"
	"github.com/dygen/dygen/verify"
	"slices"
	"strings"
)

// RTPlan is the AVX2+FMA backend of a layer whose input size is a run-time
// argument. What does not depend on the size is fixed here, before an
// instruction is emitted: the register blocking (as for fixed sizes), the
// fused kernel's layout (the same [groups][blocks of M][CinG][KH][KW][M]),
// and the taps' rows. What does is computed by the generated driver once
// per input size and kept with its buffers: the phase planes (Hq, Wq, as
// AsmPlan describes them, rows of Wo + (KW−1)·DW/SW), the flat output row
// of NV vectors rounded up to whole pixel blocks (the kernels compute the
// last block in full into scratch, so they need no tail variants), the
// chunk of pixel blocks that fits in L2, and each tap row's byte offset in
// a packed channel.
//
// A micro-kernel reads tap (kh, kw) of output pixel q at q·4 + rows[r] +
// 4·j0 bytes into the packed channel, where r is the tap's row (its phase
// plane ph·SW+pw and its row i0 = kh·DH/SH in that plane) and j0 = kw·DW/SW:
// it loads rows[r] into a register when the row changes, and the rest are
// constants. Go checks every offset in rows, and every length the kernel
// touches, before entering it.
type RTPlan struct {
	M, P   int  // output channels × pixel vectors per block
	Mt     int  // channels of the tail block of a group (0: none)
	NBFull int  // full blocks of M channels per group
	MemFMA bool // FMAs take the input from memory (M = 1)

	// RowExtra and ColExtra are Hq − Ho and Wq − Wo: (KH−1)·DH/SH and
	// (KW−1)·DW/SW.
	RowExtra, ColExtra int

	// Cols are the taps' distinct (column phase, column offset) pairs:
	// with zero padding the driver narrows the packed rows as sharedWq
	// does, checking each.
	Cols []RTCol

	Rows   []RTRow // the taps' distinct rows, in tap order
	TapRow []int   // per tap (kh, kw): its index in Rows
	TapCol []int   // per tap: j0, its column offset in the row, in floats

	Kernels []AsmKernel // M×P, and Mt×P for a tail block

	// OwnDiv turns AsmPlan.OwnProcs's cost model into one division for the
	// driver, which knows the size only at run time: a one-sample call
	// gives each part its own packed input up to max(2, FLOPs/(OwnDiv·
	// packed floats)) goroutines.
	OwnDiv int

	// FuseName, Fuse8 and SumName are as in AsmPlan (the fusion's layout
	// does not depend on the input size).
	FuseName string
	Fuse8    int
	SumName  string

	// DirectIn: a 1x1 layer without padding, stride or batch fusion reads
	// its input in place (the packed planes would be the input itself),
	// but for the last, partial pixel block of each channel, whose floats
	// are copied into a [Cin][P·8] scratch (zeros past the plane) so that
	// no kernel reads past the input.
	DirectIn bool

	// GatherName, for a column stride of 2 without PackName (padding
	// modes other than zeros), is the Go pack's assembly gather of every
	// other float of an input row into a packed row.
	GatherName string
	// PackName is the whole pack in assembly (zero padding, column stride
	// 1 or 2): every channel, phase plane and row in one call, the row's
	// interior run 8 floats at a time and its padding zeroed, from a
	// geometry table computed once per input size (RTPackGeom).
	PackName string
	// PackGeomLen is the length of PackName's geometry table.
	PackGeomLen int
	// PerChannel: depthwise (one input and one output channel per group):
	// fused per channel in one pass over the experts, and packed,
	// convolved and copied out one channel at a time.
	PerChannel bool
	// CopyName is the copy out in assembly: n channels of ho rows of wo
	// floats from the kernels' rows of wq, finishing the outputs with the
	// layer's epilogue (residual, activation) on the way.
	CopyName string

	// Batch is the batch-aware fusion (as for fixed sizes, without the
	// prefetch): for layers with more than 4 MiB of experts, each tile of
	// experts is fused and convolved for a tile of samples in turn; nil
	// otherwise.
	Batch *BatchPlan
}

// RTCol is a tap column: column phase PW, offset J0 within the phase.
type RTCol struct{ PW, J0 int }

// RTRow is one tap row: phase plane PP = ph·SW+pw, row I0 within it, and
// the largest column offset (floats) of its taps.
type RTRow struct{ PP, I0, MaxCol int }

// newRTPlan returns the run-time-size AVX2 plan of a layer, or nil for a
// fixed-size one (AsmPlan).
func newRTPlan(pl *Plan) *RTPlan {
	if pl.Fixed {
		return nil
	}
	p := pl.P
	r := &RTPlan{}
	r.M, r.P, r.MemFMA = registerBlocking(pl.CoutG)
	r.NBFull = pl.CoutG / r.M
	r.Mt = pl.CoutG % r.M
	r.RowExtra, r.ColExtra = (p.KH-1)*p.DH/p.SH, (p.KW-1)*p.DW/p.SW
	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			ph, i0 := kh*p.DH%p.SH, kh*p.DH/p.SH
			pw, j0 := kw*p.DW%p.SW, kw*p.DW/p.SW
			row := RTRow{PP: ph*p.SW + pw, I0: i0}
			idx := -1
			for i, x := range r.Rows {
				if x.PP == row.PP && x.I0 == row.I0 {
					idx = i
				}
			}
			if idx < 0 {
				idx = len(r.Rows)
				r.Rows = append(r.Rows, row)
			}
			r.Rows[idx].MaxCol = max(r.Rows[idx].MaxCol, j0)
			r.TapRow = append(r.TapRow, idx)
			r.TapCol = append(r.TapCol, j0)
			if col := (RTCol{pw, j0}); !slices.Contains(r.Cols, col) {
				r.Cols = append(r.Cols, col)
			}
		}
	}
	add := func(m int) {
		if m > 0 {
			r.Kernels = append(r.Kernels, AsmKernel{
				Name: fmt.Sprintf("%sRTConv%dx%d", lowerFirst(pl.Name), m, r.P),
				M:    m,
				P:    r.P,
			})
		}
	}
	add(r.M)
	add(r.Mt)
	if r.M == 4 && pl.Taps >= 8 {
		r.FuseName = lowerFirst(pl.Name) + "Fuse4"
		r.Fuse8 = pl.Taps / 8 * 8
	}
	r.SumName = lowerFirst(pl.Name) + "Sum"
	if pl.P.Mode == verify.Zeros && pl.P.SW <= 2 {
		r.PackName = lowerFirst(pl.Name) + "PackRT"
		r.PackGeomLen = RTPackGeomLen(pl.P.SW)
	} else if pl.P.SW == 2 {
		r.GatherName = lowerFirst(pl.Name) + "Gather2"
	}
	r.CopyName = lowerFirst(pl.Name) + "CopyRT"

	r.PerChannel = pl.CinG == 1 && pl.CoutG == 1
	r.Batch = batchTiles(pl, r.fuseInfo())
	r.OwnDiv = ownDiv
	r.DirectIn = p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 &&
		p.PadT == 0 && p.PadB == 0 && p.PadL == 0 && p.PadR == 0 && r.Batch == nil
	return r
}

// fuseInfo is what the fusion and mean pool templates need of this plan.
func (r *RTPlan) fuseInfo() FuseInfo {
	return FuseInfo{r.M, r.Mt, r.NBFull, r.PerChannel, r.FuseName, r.Fuse8, r.SumName}
}

// ChunkQuantum is the pixel blocks of a call that fill whole main blocks
// of the AVX-512 kernels (the generated setSize rounds its chunk with
// dyrt.RoundChunk).
func (r *RTPlan) ChunkQuantum() int { return ISAAVX512.chunkQuantum(r.M, r.P, r.MemFMA) }

// WideTestSize returns an input size at which a channel's flat row fills
// one main block of the AVX-512 kernels and then some (so that they run,
// tails included, where the CPU has them): the generated TestXAVX512Bits
// checks them there against AVX2, the test sizes being too small for them.
func (pl *Plan) WideTestSize() [2]int {
	r, p := pl.RT, pl.P
	need := 16*ISAAVX512.wideBlock(r.M, r.MemFMA) + 24 // a main block and a tail
	for s := 1; s < 4096; s++ {
		h, w := s+p.DH*(p.KH-1), s+p.DW*(p.KW-1)+3
		if p.CheckInput(h, w) != nil {
			continue
		}
		if ho, wo := p.OutputSize(h, w); ho*wo >= need { // wq ≥ wo
			return [2]int{h, w}
		}
	}
	panic("dygen: no input size fills an AVX-512 block (bug)")
}

// Block returns the kernel for m channels.
func (r *RTPlan) Block(m int) AsmKernel {
	for _, k := range r.Kernels {
		if k.M == m {
			return k
		}
	}
	panic(fmt.Sprintf("dygen: no %d-channel run-time kernel (bug)", m))
}

// describe prints the run-time-size AVX2 plan for people.
func (r *RTPlan) describe(pl *Plan) string {
	var b strings.Builder
	describeBlocking(&b, "avx2 kernel (run-time size)", r.M, r.P, r.Mt, r.NBFull, r.MemFMA)
	b.WriteString("\n")
	fmt.Fprintf(&b, "    per input size, once: phase planes, flat output rows in whole pixel blocks, L2 chunk, %d tap row offsets", len(r.Rows))
	for _, row := range r.Rows {
		fmt.Fprintf(&b, " (plane %d, row %d)", row.PP, row.I0)
	}
	b.WriteString("\n")
	if r.FuseName != "" {
		fmt.Fprintf(&b, "    fusion in assembly for full blocks (%d of %d taps); mean pool sums in assembly\n", r.Fuse8, pl.Taps)
	} else {
		b.WriteString("    fusion in Go; mean pool sums in assembly\n")
	}
	if r.DirectIn {
		b.WriteString("    input read in place (1x1, no padding, unit stride), but for each channel's last partial pixel block, copied into scratch\n")
	}
	switch {
	case r.DirectIn:
	case r.PackName != "":
		b.WriteString("    pack in assembly: every channel, phase plane and row in one call, the interior 8 packed floats at a time, the padding zeroed\n")
	case r.GatherName != "":
		b.WriteString("    pack: every other input column gathered in assembly, 8 packed floats at a time\n")
	}
	fmt.Fprintf(&b, "    one sample split over 2 … max(2, FLOPs/(%d·packed floats)) goroutines (per input size): each part packs the whole input into its own buffer (more goroutines share one packed input)\n", r.OwnDiv)
	b.WriteString(r.Batch.describe())
	return b.String()
}
