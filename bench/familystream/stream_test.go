// Package familystream measures what a residual add costs at the least on
// the suite's output shapes, for bench/family.sh: Read is one pass that
// only reads a residual of the output's size (the traffic the fused
// epilogue adds to a conv), and Pass is the separate pass a caller would
// otherwise run after the conv (dst = relu(dst + res): read two tensors,
// write one). Each call uses the next of enough buffers to leave the
// caches, as a network's activations do.
package familystream

import (
	"fmt"
	"testing"
)

// outputs are the suite's layers' output sizes per sample: Cout·Ho·Wo.
var outputs = []struct {
	name string
	size int
}{
	{"Stem7x7", 64 * 112 * 112},
	{"Conv3x3C64", 64 * 56 * 56},
	{"Conv3x3C128", 128 * 28 * 28},
	{"Conv3x3C256", 256 * 14 * 14},
	{"Conv3x3C512", 512 * 7 * 7},
	{"Conv3x3S2", 128 * 28 * 28},
	{"Conv1x1Reduce", 64 * 56 * 56},
	{"Conv1x1Expand", 256 * 56 * 56},
	{"DW3x3C144", 144 * 56 * 56},
	{"DW5x5S2C96", 96 * 14 * 14},
	{"Group1x1G3", 60 * 28 * 28},
}

// ring returns k buffers of n floats, k chosen so they span 64 MiB.
func ring(n int) [][]float32 {
	k := max(2, (64<<20)/(4*n))
	b := make([][]float32, k)
	for i := range b {
		b[i] = make([]float32, n)
		for j := range b[i] {
			b[i][j] = float32(j%7) - 3
		}
	}
	return b
}

var sink float32

func BenchmarkResidual(b *testing.B) {
	for _, o := range outputs {
		for _, n := range []int{1, 8} {
			size := n * o.size
			b.Run(fmt.Sprintf("%sRead/N=%d", o.name, n), func(b *testing.B) {
				res := ring(size)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r := res[i%len(res)]
					var s0, s1, s2, s3 float32
					for j := 0; j+4 <= len(r); j += 4 {
						s0 += r[j]
						s1 += r[j+1]
						s2 += r[j+2]
						s3 += r[j+3]
					}
					sink = s0 + s1 + s2 + s3
				}
			})
			b.Run(fmt.Sprintf("%sPass/N=%d", o.name, n), func(b *testing.B) {
				res, dst := ring(size), ring(size)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r, d := res[i%len(res)], dst[i%len(dst)]
					r = r[:len(d)]
					for j := range d {
						d[j] = max(d[j]+r[j], 0)
					}
				}
			})
		}
	}
}
