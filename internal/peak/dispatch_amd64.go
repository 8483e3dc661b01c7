//go:build amd64 && !purego

package peak

import "golang.org/x/sys/cpu"

var avx2Kernel = loop{name: avx2KernelName, flopsPerIter: 12 * 16, run: fmaLoop}

// hasAVX2FMA reports whether the assembly loop can run here.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// asmLoop returns the AVX2+FMA peak loop and whether it runs here.
func asmLoop() (loop, bool) { return avx2Kernel, hasAVX2FMA }
