// Command asm512 generates peak_avx512_amd64.s and its Go stub with avo: the
// AVX-512F loop that internal/peak times to measure a core's 512-bit FMA
// peak. It is apart from ./asm so that every AVX-512 instruction lives in a
// file whose name says avx512. Run it through `go generate` in internal/peak.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// accumulators is the number of independent FMA chains: 24 covers the FMA
// latency times the 512-bit FMA ports of every current core (4 cycles × 2
// on Zen 5 and Sapphire Rapids; a 12-chain loop measured about a third of
// Zen 5's peak), with Z30 and Z31 left for the multiplicands.
const accumulators = 24

func main() {
	ConstraintExpr("amd64,!purego")

	TEXT("fmaLoop512", NOSPLIT, "func(n int, out *[8]float32)")
	Doc(fmt.Sprintf("fmaLoop512 runs n iterations of %d independent VFMADD231PS on ZMM registers", accumulators),
		fmt.Sprintf("(%d float32 FLOPs per iteration) and stores the low 8 floats of the sum of the", accumulators*32),
		"accumulators in out. It needs AVX-512F.")
	n := Load(Param("n"), reg.RCX)
	out := Load(Param("out"), reg.RDX)

	all := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23}
	zs := all[:accumulators]
	a, b := reg.Z30, reg.Z31
	Comment(fmt.Sprintf("Z0-Z%d accumulate Z30*Z31; the multiplicands are close to 1 so the sums stay finite.", accumulators-1))
	for _, z := range zs {
		VPXORD(z, z, z)
	}
	one := GLOBL("peak512_one", RODATA|NOPTR)
	DATA(0, F32(1.0))
	near := GLOBL("peak512_near_one", RODATA|NOPTR)
	DATA(0, F32(0.999999))
	VBROADCASTSS(one, a)
	VBROADCASTSS(near, b)

	TESTQ(n, n)
	JLE(LabelRef("done"))
	Label("loop")
	for _, z := range zs {
		VFMADD231PS(a, b, z)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))

	Label("done")
	Comment("Sum the accumulators so that the result depends on every one of them.")
	for i := 1; i < len(zs); i++ {
		VADDPS(zs[i], zs[0], zs[0])
	}
	VMOVUPS(reg.Y0, Mem{Base: out})
	VZEROUPPER()
	RET()

	Generate()
}
