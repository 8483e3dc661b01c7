package gen

import "fmt"

// BatchPlan is the batch-aware fusion of a fixed-size layer's AVX2 path:
// for N samples on one goroutine, the expert weights are streamed once per
// batch tile of NT samples instead of once per sample, and each fused tile
// is convolved while it is in L2 (for N = 1 too: the fused kernel never
// makes the round trip to memory). The samples of a
// tile are routed (and packed) first; then, for each tile of TB channel
// blocks, the K expert kernels of those blocks (about WeightTileBytes) are
// fused for every sample of the tile in turn, each sample's fused tile
// being convolved right away, while the expert tile stays in L2. Each
// sample's fused values and outputs are computed by the same kernels in the
// same order as a one-sample call, so the results are bit-identical.
type BatchPlan struct {
	NT              int // samples per batch tile
	TB              int // channel blocks per weight tile
	Units           int // channel blocks of the layer (groups × blocks per group)
	WeightTileBytes int // expert weights of one weight tile
	FusedTileLen    int // floats of one sample's fused tile: TB·M·Taps
	// PF is the number of cache lines of each expert's rows of the next
	// weight tile that each input-channel iteration of the convolution
	// kernels prefetches into L2 (PREFETCHT1, K·PF in all), so that the
	// next tile's fusion reads them from L2 instead of memory: the memory
	// traffic of the fusion overlaps the FMA-bound convolution of the
	// current tile. It is one expert's lines of the tile over the kernel
	// channel iterations of one sample's tile, rounded up; 0 turns the
	// prefetch off.
	PF int
	// PFNeed is the floats of each expert's rows that one pixel block's
	// kernel call prefetches: CinG·PF cache lines.
	PFNeed int
}

const (
	// batchMinWeightBytes is the size of the expert weights from which
	// they no longer stay in cache between samples.
	batchMinWeightBytes = 4 << 20
	// batchWeightTile is the expert-weight footprint of one weight tile.
	batchWeightTile = 512 << 10
	// batchNT is the number of samples that share one pass over the weights.
	batchNT = 8
)

// newBatchPlan returns the batch-aware fusion plan, or nil when the layer
// does not need it (small expert weights) or its shape is not covered (no
// assembly fusion, tail blocks, or taps not a multiple of 8).
func newBatchPlan(pl *Plan) *BatchPlan {
	a := pl.Asm
	if a == nil {
		return nil
	}
	b := batchTiles(pl, a.fuseInfo())
	if b == nil {
		return nil
	}
	p := pl.P
	tb := b.TB
	// Kernel channel iterations of one sample's tile: every pixel block of
	// every channel block runs CinG of them.
	iters := tb * (a.NPB + a.Nt) * pl.CinG
	lines := (tb*a.M*pl.Taps*4 + 63) / 64 // one expert's rows of the tile
	pf := (lines + iters - 1) / iters
	// One call's sweep (Chunk pixel blocks, or the Nt tail blocks) must fit
	// in one expert's weights, from which the driver takes it.
	need := pl.CinG * pf * 16
	if pl.CinG > 1 && max(a.Chunk, a.Nt)*need <= p.OutC*pl.Taps {
		// Every convolution of the layer runs tile by tile, so the
		// prefetching variants replace the plain kernels.
		b.PF, b.PFNeed = pf, need
		for i := range a.Kernels {
			a.Kernels[i].Name += "PF"
			a.Kernels[i].PF = pf
		}
	}
	return b
}

// batchTiles returns the tiling of the batch-aware fusion for a backend's
// blocking f, or nil when the layer does not need it (small expert
// weights) or its shape is not covered (no assembly fusion, tail blocks, or
// taps not a multiple of 8).
func batchTiles(pl *Plan, f FuseInfo) *BatchPlan {
	p := pl.P
	if pl.Static || f.FuseName == "" || f.Mt != 0 || f.Fuse8 != pl.Taps || p.K*p.OutC*pl.Taps*4 < batchMinWeightBytes {
		return nil
	}
	units := p.Groups * f.NBFull
	blk := p.K * f.M * pl.Taps * 4
	tb := max(1, min(units, batchWeightTile/blk))
	return &BatchPlan{
		NT:              batchNT,
		TB:              tb,
		Units:           units,
		WeightTileBytes: tb * blk,
		FusedTileLen:    tb * f.M * pl.Taps,
	}
}

// describe prints the batch plan for people (part of Plan.Describe).
func (b *BatchPlan) describe() string {
	if b == nil {
		return "    batch fusion: none (expert weights fit in cache, or shape not covered): fused per sample\n"
	}
	s := fmt.Sprintf("    batch fusion: samples in tiles of %d share one pass over the expert weights, %d channel blocks (%d KiB of experts) per weight tile\n",
		b.NT, b.TB, b.WeightTileBytes>>10)
	if b.PF > 0 {
		s += fmt.Sprintf("    the convolution of a tile prefetches the next tile's experts into L2: %d cache line(s) of each expert per input channel iteration\n", b.PF)
	}
	return s
}
