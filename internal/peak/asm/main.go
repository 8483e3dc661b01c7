// Command asm generates peak_amd64.s and its Go stub with avo: the AVX2+FMA
// loop that internal/peak times to measure a core's FMA peak. Run it through
// `go generate` in internal/peak.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// accumulators is the number of independent FMA chains: enough to cover the
// FMA latency times the FMA ports of current x86 cores (4 cycles × 2 ports
// on Zen 3 and Skylake), with Y12 and Y13 left for the multiplicands.
const accumulators = 12

func main() {
	ConstraintExpr("amd64,!purego")

	TEXT("fmaLoop", NOSPLIT, "func(n int, out *[8]float32)")
	Doc(fmt.Sprintf("fmaLoop runs n iterations of %d independent VFMADD231PS on YMM registers", accumulators),
		fmt.Sprintf("(%d float32 FLOPs per iteration) and stores the sum of the accumulators in out.", accumulators*16),
		"It needs AVX2 and FMA.")
	n := Load(Param("n"), reg.RCX)
	out := Load(Param("out"), reg.RDX)

	ys := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9, reg.Y10, reg.Y11}
	a, b := reg.Y12, reg.Y13
	Comment("Y0-Y11 accumulate Y12*Y13; the multiplicands are close to 1 so the sums stay finite.")
	for _, y := range ys {
		VXORPS(y, y, y)
	}
	one := GLOBL("peak_one", RODATA|NOPTR)
	DATA(0, F32(1.0))
	near := GLOBL("peak_near_one", RODATA|NOPTR)
	DATA(0, F32(0.999999))
	VBROADCASTSS(one, a)
	VBROADCASTSS(near, b)

	TESTQ(n, n)
	JLE(LabelRef("done"))
	Label("loop")
	for _, y := range ys {
		VFMADD231PS(a, b, y)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))

	Label("done")
	Comment("Sum the accumulators so that the result depends on every one of them.")
	for i := 1; i < len(ys); i++ {
		VADDPS(ys[i], ys[0], ys[0])
	}
	VMOVUPS(ys[0], Mem{Base: out})
	VZEROUPPER()
	RET()

	Generate()
}
