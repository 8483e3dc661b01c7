//go:build !arm64 || purego

package peak

// neonLoopKernel reports that this build has no NEON peak loop.
func neonLoopKernel() (loop, bool) { return loop{}, false }
