//go:build amd64 && !purego

package peak

import "golang.org/x/sys/cpu"

var avx2Kernel = loop{name: "AVX2+FMA, 12 YMM accumulators", flopsPerIter: 12 * 16, run: fmaLoop}

// hasAVX2FMA reports whether the assembly loop can run here.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

func kernel() loop {
	if hasAVX2FMA {
		return avx2Kernel
	}
	return goKernel
}
