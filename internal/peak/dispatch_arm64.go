//go:build arm64 && !purego

package peak

var neonKernel = loop{name: neonKernelName, flopsPerIter: 24 * 8, run: neonLoop}

// neonLoop runs n iterations of the NEON peak loop (peak_arm64.s).
//
//go:noescape
func neonLoop(n int, out *[8]float32)

// neonLoopKernel returns the NEON peak loop: ASIMD is part of every arm64
// CPU.
func neonLoopKernel() (loop, bool) { return neonKernel, true }
