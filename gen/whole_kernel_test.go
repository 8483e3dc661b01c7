package gen

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dygen/dygen/verify"
)

// TestWholeSegs checks the output-row segments of the pure-Go whole-kernel
// pass against a row-by-row count of the kernel rows that read inside the
// input: every row with a kernel row inside is in exactly one segment with
// exactly that range, rows with none are in no segment, and segments are in
// order with adjacent equal ranges merged.
func TestWholeSegs(t *testing.T) {
	geoms := []struct {
		kh, sh, dh, padT, padB, h int
	}{
		{3, 1, 1, 1, 1, 56}, {3, 2, 1, 1, 1, 56}, {3, 1, 1, 3, 3, 6}, {3, 1, 1, 4, 0, 3},
		{3, 2, 2, 4, 4, 9}, {3, 1, 3, 3, 3, 16}, {2, 1, 1, 0, 1, 7}, {1, 1, 1, 2, 2, 5},
		{3, 5, 1, 4, 4, 2}, {3, 1, 1, 0, 0, 3},
	}
	for _, g := range geoms {
		t.Run(fmt.Sprintf("kh%d_s%d_d%d_t%d_b%d_h%d", g.kh, g.sh, g.dh, g.padT, g.padB, g.h), func(t *testing.T) {
			p := verify.Params{InC: 2, OutC: 2, KH: g.kh, KW: 3, SH: g.sh, SW: 1, PadT: g.padT, PadB: g.padB, PadL: 1, PadR: 1,
				DH: g.dh, DW: 1, Groups: 1, K: 1, Mode: verify.Zeros}.WithDefaults()
			require.NoError(t, p.CheckInput(g.h, 5))
			ho, _ := p.OutputSize(g.h, 5)
			pl := &Plan{P: p, Fixed: true, H: g.h, W: 5, Ho: ho, WholeKernel: wholeKernelOK(p)}
			segs := wholeSegs(pl)
			if !pl.WholeKernel {
				assert.Empty(t, segs)
				return
			}
			row := 0
			for i, s := range segs {
				require.Less(t, s.Lo, s.Hi, "segment %d", i)
				require.GreaterOrEqual(t, s.Lo, row, "segment %d starts before the one before it ends", i)
				if i > 0 && segs[i-1].Hi == s.Lo {
					assert.False(t, segs[i-1].KhLo == s.KhLo && segs[i-1].KhHi == s.KhHi, "segments %d and %d not merged", i-1, i)
				}
				row = s.Hi
			}
			for oy := 0; oy < ho; oy++ {
				lo, hi := -1, -1
				for kh := 0; kh < p.KH; kh++ {
					if iy := oy*p.SH + kh*p.DH - p.PadT; iy >= 0 && iy < g.h {
						if lo < 0 {
							lo = kh
						}
						hi = kh + 1
					}
				}
				var in []wholeSeg
				for _, s := range segs {
					if oy >= s.Lo && oy < s.Hi {
						in = append(in, s)
					}
				}
				if lo < 0 {
					assert.Empty(t, in, "row %d reads only padding", oy)
					continue
				}
				require.Len(t, in, 1, "row %d", oy)
				assert.Equal(t, [2]int{lo, hi}, [2]int{in[0].KhLo, in[0].KhHi}, "row %d", oy)
			}
		})
	}
	t.Run("modes and run-time sizes", func(t *testing.T) {
		p := verify.Params{InC: 2, OutC: 2, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 1, PadB: 1, PadL: 1, PadR: 1,
			DH: 1, DW: 1, Groups: 1, K: 1, Mode: verify.Reflect}.WithDefaults()
		pl := &Plan{P: p, Fixed: true, H: 6, W: 6, Ho: 6, WholeKernel: true}
		assert.Equal(t, []wholeSeg{{0, 6, 0, 3}}, wholeSegs(pl), "reflect: every row, every kernel row")
		pl.Fixed, pl.H, pl.Ho = false, 0, 0
		assert.Equal(t, []wholeSeg{{0, 0, 0, 3}}, wholeSegs(pl), "reflect, run-time size")
		pl.P.Mode = verify.Zeros
		assert.Equal(t, []wholeSeg{{-1, -1, 0, 3}}, wholeSegs(pl), "zeros, run-time size: the interior, per call")
	})
	for _, c := range []struct {
		kh, kw int
		want   bool
	}{{3, 3, true}, {1, 1, false}, {1, 3, false}, {3, 1, true}, {2, 2, true}, {2, 4, true}, {3, 4, false}, {5, 5, false}, {7, 7, false}} {
		p := verify.Params{KH: c.kh, KW: c.kw}
		assert.Equal(t, c.want, wholeKernelOK(p), "%dx%d", c.kh, c.kw)
	}
}

// TestWholeKernelLayers generates and tests a module of layers whose pure-Go
// kernels take the whole-kernel pass at its edges: rows and columns that
// read only padding, kernel-row ranges cut at the top and bottom, strides
// and dilations, 2-row and 1-column kernels, every padding mode, borders
// too wide for straight-line code, depthwise, the epilogue and residual,
// and run-time sizes; the pointwise pass (Plan.PWChunk) with a short last
// chunk of input channels, a short last tile, fewer input channels than a
// chunk, groups and the epilogue on tiles; and the strided row loop out of
// line (a 7x7/2 stem). Built with purego, the generated tests run the
// pure-Go kernels (CI does); otherwise every variant on the same vectors.
func TestWholeKernelLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and tests a module of 17 layers")
	}
	const spec = `package: wholekernel
layers:
  - {name: PadRows, in_channels: 3, out_channels: 5, kernel_size: 3, padding: 3, num_experts: 2, input_size: [6, 7]}
  - {name: TopOnly, in_channels: 2, out_channels: 4, kernel_size: 3, padding: [4, 0], num_experts: 2, input_size: [3, 9], activation: relu, residual: true}
  - {name: StrideDil, in_channels: 3, out_channels: 7, kernel_size: 3, stride: 2, dilation: 2, padding: 4, num_experts: 2, input_size: [9, 11], activation: silu}
  - {name: Col3x1, in_channels: 4, out_channels: 6, kernel_size: [3, 1], padding: [1, 0], num_experts: 2, input_size: [5, 9]}
  - {name: Row2x3, in_channels: 3, out_channels: 5, kernel_size: [2, 3], padding: same, num_experts: 2, input_size: [7, 10], residual: true}
  - {name: Reflect, in_channels: 3, out_channels: 4, kernel_size: 3, stride: 2, padding: 2, padding_mode: reflect, num_experts: 2, input_size: [8, 9]}
  - {name: Circular, in_channels: 2, out_channels: 3, kernel_size: 3, dilation: [1, 2], padding: [2, 1], padding_mode: circular, num_experts: 2, input_size: [6, 5]}
  - {name: Replicate, in_channels: 6, out_channels: 6, groups: 6, kernel_size: 3, padding: 1, padding_mode: replicate, num_experts: 2, input_size: [5, 12], activation: hardswish}
  - {name: WideBorder, in_channels: 2, out_channels: 5, kernel_size: 3, padding: 5, num_experts: 2, input_size: [4, 4]}
  - {name: Depthwise, in_channels: 8, out_channels: 8, groups: 8, kernel_size: 3, padding: 1, num_experts: 2, input_size: [11, 13], activation: relu6, residual: true}
  - {name: RTZeros, in_channels: 3, out_channels: 4, kernel_size: 3, dilation: 2, padding: 2, num_experts: 2}
  - {name: RTReflect, in_channels: 3, out_channels: 5, kernel_size: [3, 2], padding: 1, padding_mode: reflect, num_experts: 2}
  - {name: PWTiles, in_channels: 22, out_channels: 13, kernel_size: 1, num_experts: 2, input_size: [23, 29], activation: silu, residual: true}
  - {name: PWSmall, in_channels: 5, out_channels: 7, kernel_size: 1, num_experts: 2, input_size: [3, 4], activation: relu}
  - {name: PWGroups, in_channels: 30, out_channels: 12, groups: 3, kernel_size: 1, num_experts: 2, input_size: [9, 57]}
  - {name: PWExact, in_channels: 18, out_channels: 6, kernel_size: 1, num_experts: 2, input_size: [16, 32], residual: true}
  - {name: Stem7x7S2, in_channels: 3, out_channels: 4, kernel_size: 7, stride: 2, padding: 3, num_experts: 2, input_size: [19, 23], activation: relu}
`
	dir, parsed, plans := planSpec(t, "wholekernel", spec)
	for _, pl := range plans {
		switch {
		case strings.HasPrefix(pl.Name, "PW"):
			require.Equal(t, min(9, pl.CinG), pl.PWChunk, "layer %s", pl.Name)
		case strings.HasPrefix(pl.Name, "Stem"):
			require.False(t, pl.WholeKernel, "layer %s", pl.Name)
		default:
			require.True(t, pl.WholeKernel, "layer %s", pl.Name)
		}
	}
	testSpecModule(t, dir, parsed)
}
