package gen

import (
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// FCName is the assembly routing FC of a fixed-size layer: four rows of
// the coefficient FC against the pooled vector at a time, float32 weights
// widened to float64 and accumulated in float64 (4 lanes × 2 chains per
// row), or "" when the FC stays in Go (no AVX2 backend, or Cin not a
// multiple of 8) or there is none: only DyNet's K·Cout-row FC has it, and
// a layer whose routing comes from outside computes none.
func (pl *Plan) FCName() string {
	if !pl.HasAsm() || pl.P.InC%8 != 0 || !pl.DyNetFC || pl.External {
		return ""
	}
	return lowerFirst(pl.Name) + "FC4"
}

// emitRouteAsm returns the assembly file of the routing FC (FCName).
func emitRouteAsm(pkg string, pl *Plan) ([]byte, error) {
	ctx := build.NewContext()
	ctx.ConstraintExpr(asmBuildConstraint)
	emitFCKernel(ctx, pl)
	return renderAsm(ctx, pkg, pl.Name, "routing assembly")
}

// emitFCKernel emits FCName: out[r] += Σ_c float64(w[r·Cin+c])·x[c] for
// the rows r = 0..3, n8 = Cin/8 groups of 8 inputs.
//
//	DI out, SI w, DX x, CX groups left; Y0–Y7 sums (row r: Y2r, Y2r+1),
//	Y8–Y9 inputs, Y10–Y11 widened weights.
func emitFCKernel(ctx *build.Context, pl *Plan) {
	name := pl.FCName()
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr("func(out []float64, w []float32, x []float64, n8 int)")
	ctx.Doc(name + " adds to out[0:4] the dot products of 4 FC rows with x (float64 sums).")
	out, w, x, n := reg.RDI, reg.RSI, reg.RDX, reg.RCX
	ctx.Load(ctx.Param("out").Base(), out)
	ctx.Load(ctx.Param("w").Base(), w)
	ctx.Load(ctx.Param("x").Base(), x)
	ctx.Load(ctx.Param("n8"), n)
	ys := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11}
	xs := []reg.VecPhysical{reg.X0, reg.X1, reg.X2, reg.X3, reg.X4, reg.X5, reg.X6, reg.X7}
	for i := 0; i < 8; i++ {
		ctx.VXORPD(ys[i], ys[i], ys[i])
	}
	row := 4 * pl.P.InC
	ctx.Label("loop")
	ctx.VMOVUPD(mem(x, 0), ys[8])
	ctx.VMOVUPD(mem(x, 32), ys[9])
	for r := 0; r < 4; r++ {
		ctx.VCVTPS2PD(mem(w, r*row), ys[10])
		ctx.VCVTPS2PD(mem(w, r*row+16), ys[11])
		ctx.VFMADD231PD(ys[10], ys[8], ys[2*r])
		ctx.VFMADD231PD(ys[11], ys[9], ys[2*r+1])
	}
	ctx.ADDQ(operand.U32(32), w)
	ctx.ADDQ(operand.U32(64), x)
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	// Row r: Y2r + Y2r+1, then the 4 lanes: (l0+l2) + (l1+l3).
	for r := 0; r < 4; r++ {
		a := ys[2*r]
		ctx.VADDPD(ys[2*r+1], a, a)
		ctx.VEXTRACTF128(operand.U8(1), a, reg.X9)
		ctx.VADDPD(reg.X9, xs[2*r], xs[2*r])
		ctx.VHADDPD(xs[2*r], xs[2*r], xs[2*r])
		ctx.VADDSD(mem(out, 8*r), xs[2*r], xs[2*r])
		ctx.VMOVSD(xs[2*r], mem(out, 8*r))
	}
	ctx.VZEROUPPER()
	ctx.RET()
}
