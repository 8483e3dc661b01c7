package generated

import (
	"strings"
	"testing"

	"github.com/dygen/dygen/gen"
)

// The standard suite's code-size budget: the generated source (Go and
// one ISA's assembly, without the tests) of its 11 layers, and the
// assembly of any one layer. At 8d609a1 they were 546 KiB and 70 KiB (the
// stem's 49 taps unrolled in every kernel); the budgets leave room for
// growth and catch an emitter that unrolls out of bounds. NEON needs two
// FMAs (and a WORD line each) where AVX2 needs one: its budgets are twice
// AVX2's. The AVX-512 micro-kernels (a file of their own per layer) have
// three bodies each where AVX2's have one (the main block of up to 12
// vectors, single vectors, the masked half vector): their budgets are
// twice AVX2's too (the stem's are 207 KiB: 49 taps in 8 block sizes).
const (
	suiteSourceBudget = 1 << 20
	layerAsmBudget    = 128 << 10
)

// asmBudget is the per-layer assembly budget of file name's ISA, and
// which ISA it is.
func asmBudget(name string) (int, string) {
	if strings.Contains(name, "_arm64_") {
		return 2 * layerAsmBudget, "arm64"
	}
	if strings.Contains(name, "avx512") {
		return 2 * layerAsmBudget, "avx512"
	}
	return layerAsmBudget, "amd64"
}

// TestSuiteCodeSize generates the standard suite, reports its size and
// fails when it is over budget. (The time to build it is reported by
// dygen bench and in the README: 8 s from an empty build cache here.)
func TestSuiteCodeSize(t *testing.T) {
	s, err := gen.LoadSpec("suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(s, gen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	size := gen.SizeOf(files)
	t.Logf("suite: %d layers, %d bytes of Go, %d of assembly, %d of tests", len(s.Layers), size.Go, size.Asm, size.Tests)
	asm := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".s") {
			budget, isa := asmBudget(f.Name)
			asm[isa] += len(f.Data)
			t.Logf("%s: %d bytes", f.Name, len(f.Data))
			if len(f.Data) > budget {
				t.Errorf("%s: %d bytes of assembly, over the budget of %d per layer", f.Name, len(f.Data), budget)
			}
		}
	}
	// Go and amd64's AVX2 assembly within suiteSourceBudget; arm64's and
	// AVX-512's assembly each within twice what that leaves AVX2's.
	if n := size.Go + asm["amd64"]; n > suiteSourceBudget {
		t.Errorf("suite: %d bytes of generated Go and amd64 assembly, over the budget of %d", n, suiteSourceBudget)
	}
	for _, isa := range []string{"arm64", "avx512"} {
		if n, budget := asm[isa], 2*(suiteSourceBudget-size.Go); n > budget {
			t.Errorf("suite: %d bytes of %s assembly, over the budget of %d", n, isa, budget)
		}
	}
}
