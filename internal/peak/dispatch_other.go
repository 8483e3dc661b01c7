//go:build !amd64 || purego

package peak

const hasAVX2FMA = false

func kernel() loop { return goKernel }
