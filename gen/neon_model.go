package gen

import (
	"fmt"
	"strings"

	a64 "github.com/dygen/dygen/gen/arm64asm"
)

// The static performance model of the NEON kernels. This machine cannot
// time arm64 code (QEMU checks correctness, not speed), so dygen plan
// estimates each micro-kernel's fraction of a core's FMA peak from its
// instruction mix and published core widths. It is an estimate: it ignores
// cache misses, the order in which the core issues the instructions and
// the Go driver's pack, copy and fusion; it does count the FMA latency
// against the kernel's independent accumulators. dygen bench on arm64
// measures.

// NEONCore is a core's per-cycle throughput in the model.
type NEONCore struct {
	Name    string
	FMA     int     // 128-bit FMA pipes
	LoadsQ  int     // 128-bit loads per cycle
	Issue   int     // instructions dispatched per cycle
	Latency int     // FMLA latency in cycles
	GHz     float64 // a typical clock, for GFLOP/s
	Example string
}

// NEONCores are the cores the model reports, from Arm's software
// optimization guides: Neoverse V1 has four FP/ASIMD pipes that all take
// FMLA and three load pipes; Neoverse N1 two FP pipes and two load pipes.
var NEONCores = []NEONCore{
	{Name: "Neoverse V1", FMA: 4, LoadsQ: 3, Issue: 8, Latency: 4, GHz: 2.6, Example: "AWS Graviton3"},
	{Name: "Neoverse N1", FMA: 2, LoadsQ: 2, Issue: 4, Latency: 4, GHz: 2.5, Example: "AWS Graviton2, Ampere Altra"},
}

// NEONModel is the instruction mix of one micro-kernel and its estimate.
type NEONModel struct {
	Kernel string
	Regs   int // vector registers used
	// Per input channel iteration (the unrolled taps): FMAs, 128-bit
	// loads (an LDP of two Q registers counts two), prefetches and all
	// instructions.
	FMA, LoadsQ, Prefetch, Insts int
	// Per pixel block, outside the channel loop: instructions (bias,
	// residual, activation, stores, pointers).
	Overhead int
	CinG     int
	Chains   int // independent accumulators
}

// FMAPerLoad is the FMAs per 128-bit load of the channel loop.
func (m NEONModel) FMAPerLoad() float64 { return float64(m.FMA) / float64(max(1, m.LoadsQ)) }

// FMAFraction is the FMAs' share of the channel loop's instructions.
func (m NEONModel) FMAFraction() float64 { return float64(m.FMA) / float64(max(1, m.Insts)) }

// Efficiency estimates the kernel's fraction of c's FMA peak: per pixel
// block, CinG channel iterations bound by the busiest of the FMA pipes,
// the load pipes, dispatch and the FMA latency along each accumulator's
// chain, plus the block's overhead at full dispatch.
func (m NEONModel) Efficiency(c NEONCore) float64 {
	fma := float64(m.FMA) / float64(c.FMA)
	chain := float64(m.FMA) / float64(max(1, m.Chains)) * float64(c.Latency)
	loop := max(fma, chain, float64(m.LoadsQ+m.Prefetch)/float64(c.LoadsQ), float64(m.Insts)/float64(c.Issue))
	block := float64(m.CinG)*loop + float64(m.Overhead)/float64(c.Issue)
	return float64(m.CinG) * fma / block
}

// neonModel builds the kernel k of pl's NEON view and counts its
// instructions.
func neonModel(pl *Plan, k AsmKernel) NEONModel {
	var fn *a64.Func
	var lo, hi int
	memFMA := false
	if pl.RT != nil {
		fn, lo, hi = emitNEONRT(a64.NewFile(ISANEON.Build), pl, k)
		memFMA = pl.RT.MemFMA
	} else {
		fn, lo, hi = emitNEONConv(a64.NewFile(ISANEON.Build), pl, k)
		memFMA = pl.Asm.MemFMA
	}
	m := NEONModel{Kernel: k.Name, Regs: ISANEON.KernelRegs(k.M, k.P, memFMA), CinG: pl.CinG, Chains: 2 * k.M * k.P}
	for i, in := range fn.Insts {
		if in.Op == "" {
			continue // a label or a comment
		}
		if i < lo || i >= hi {
			m.Overhead++
			continue
		}
		m.Insts++
		switch {
		case in.Op == "WORD" && (strings.HasPrefix(in.Note, "fmla") || strings.HasPrefix(in.Note, "fmul")):
			m.FMA++
		case in.Op == "FLDPQ":
			m.LoadsQ += 2
		case (in.Op == "FMOVQ" || in.Op == "FMOVS") && !strings.HasPrefix(in.Args, "F"):
			m.LoadsQ++
		case in.Op == "PRFM":
			m.Prefetch++
		}
	}
	return m
}

// describeNEON prints the NEON view of the plan: the blocking and the
// static estimate of each micro-kernel.
func describeNEON(pl *Plan) string {
	v := pl.ForISA(ISANEON)
	if v == nil {
		return ""
	}
	m, pv, memFMA, kernels, what := 0, 0, false, []AsmKernel(nil), ""
	if v.RT != nil {
		m, pv, memFMA, kernels, what = v.RT.M, v.RT.P, v.RT.MemFMA, v.RT.Kernels, " (run-time size)"
	} else {
		m, pv, memFMA, kernels = v.Asm.M, v.Asm.P, v.Asm.MemFMA, v.Asm.Kernels
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  neon kernel (arm64)%s: %d channels × %d vectors of 8 pixels per block, each vector a pair of Q registers: %d of 32 V registers (%d accumulators, ",
		what, m, pv, ISANEON.KernelRegs(m, pv, memFMA), 2*m*pv)
	if memFMA {
		b.WriteString("inputs loaded per FMA into a rotation of 3 pairs")
	} else {
		fmt.Fprintf(&b, "%d input registers", 2*pv)
	}
	b.WriteString(", 2 weight registers read by element); the rest of the plan as above\n")
	if v.RT != nil {
		b.WriteString("    in NEON: micro-kernels, the pack of zero-padded stride-1/2 layers from the per-size geometry table (or the column gather of the Go pack for other stride-2 layers), the copy out with its epilogue, fusion, mean-pool sum, routing FC\n")
	} else {
		b.WriteString("    in NEON: micro-kernels (with the residual and activation in their stores), the pack of zero-padded stride-1/2 layers (UZP1/UZP2 split the column phases), the copy out with its epilogue (rows of 8 or more), fusion, mean-pool sum, routing FC; the rest in Go\n")
	}
	b.WriteString("    static estimate (instruction mix against published core widths; measure with dygen bench on the machine):\n")
	for _, k := range kernels {
		m := neonModel(v, k)
		fmt.Fprintf(&b, "      %s: per input channel %d FMLA, %d Q loads, %d prefetches, %d instructions: %.1f FMAs per load, FMA fraction %.2f",
			k.Name, m.FMA, m.LoadsQ, m.Prefetch, m.Insts, m.FMAPerLoad(), m.FMAFraction())
		for _, c := range NEONCores {
			fmt.Fprintf(&b, "; %s ~%.0f%%", c.Name, 100*m.Efficiency(c))
		}
		b.WriteString(" of peak\n")
	}
	return b.String()
}
