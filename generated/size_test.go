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
// AVX2's.
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
	// Go and amd64's assembly within suiteSourceBudget; arm64's assembly
	// within twice what that leaves amd64's.
	if n := size.Go + asm["amd64"]; n > suiteSourceBudget {
		t.Errorf("suite: %d bytes of generated Go and amd64 assembly, over the budget of %d", n, suiteSourceBudget)
	}
	if n, budget := asm["arm64"], 2*(suiteSourceBudget-size.Go); n > budget {
		t.Errorf("suite: %d bytes of arm64 assembly, over the budget of %d", n, budget)
	}
}
