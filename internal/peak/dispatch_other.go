//go:build !amd64 || purego

package peak

const hasAVX2FMA = false

// asmLoop reports that this build has no AVX2+FMA peak loop.
func asmLoop() (loop, bool) { return loop{}, false }

// asm512Loop reports that this build has no AVX-512 peak loop.
func asm512Loop() (loop, bool) { return loop{}, false }
