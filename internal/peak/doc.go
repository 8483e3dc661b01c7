// Package peak measures the floating-point peak of one core: the rate of
// float32 multiply-adds that a loop of independent fused multiply-adds
// reaches. dygen bench reports the kernels' throughput as a percentage of
// it.
//
// On amd64 with AVX2 and FMA (checked at run time with golang.org/x/sys/cpu)
// the loop is assembly generated with avo by ./asm: 12 independent YMM
// accumulators, each updated by VFMADD231PS (8 lanes × 2 FLOPs) per
// iteration, which keeps both FMA pipes of current x86 cores busy. It uses
// only AVX2 (Y0–Y15, VEX encodings), so it runs on cores without AVX-512.
// On arm64 (without purego) the loop is NEON, generated with dygen's arm64
// builder by ./neonasm: 24 independent FMLA chains on 128-bit registers.
// Elsewhere, and with the purego build tag, the loop is pure Go with 12
// independent scalar float32 accumulators: the scalar peak that Go code
// without assembly can reach, reported as such.
//
// Each kernel variant of the generated code has its own peak (Variant):
// the pure-Go kernels are measured against the pure-Go loop, the AVX2+FMA
// assembly against the AVX2+FMA loop. Generated says which variant
// generated code runs for a build's GOARCH and tags on this CPU, with the
// same golang.org/x/sys/cpu check as the generated code, so
// GODEBUG=cpu.avx2=off pins both to pure Go.
package peak

//go:generate go run ./asm -out peak_amd64.s -stubs peak_amd64.go -pkg peak
//go:generate go run ./asm512 -out peak_avx512_amd64.s -stubs peak_avx512_amd64.go -pkg peak
//go:generate go run ./neonasm -out peak_arm64.s
