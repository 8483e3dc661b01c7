//go:build !amd64

package dyrt

func cpuIdentity() CPUIdentity { return CPUIdentity{} }
