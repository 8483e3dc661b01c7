//go:build amd64 && !purego

package peak

import "golang.org/x/sys/cpu"

var avx2Kernel = loop{name: avx2KernelName, flopsPerIter: 12 * 16, run: fmaLoop}

// hasAVX2FMA reports whether the assembly loop can run here.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// asmLoop returns the AVX2+FMA peak loop and whether it runs here.
func asmLoop() (loop, bool) { return avx2Kernel, hasAVX2FMA }

var avx512Kernel = loop{name: avx512KernelName, flopsPerIter: 24 * 32, run: fmaLoop512}

// asm512Loop returns the AVX-512F peak loop and whether it runs here: as
// the generated code's AVX-512 variant, it needs AVX2 and FMA too (its side
// kernels are AVX2's), so GODEBUG=cpu.avx512f=off or cpu.avx2=off turns it
// off.
func asm512Loop() (loop, bool) { return avx512Kernel, cpu.X86.HasAVX512F && hasAVX2FMA }
