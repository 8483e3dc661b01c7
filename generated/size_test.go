package generated

import (
	"strings"
	"testing"

	"github.com/dygen/dygen/gen"
)

// The standard suite's code-size budget: the generated source (Go and
// assembly, without the tests) of its 11 layers, and the assembly of any
// one layer. At 8d609a1 they were 546 KiB and 70 KiB (the stem's 49 taps
// unrolled in every kernel); the budgets leave room for growth and catch
// an emitter that unrolls out of bounds.
const (
	suiteSourceBudget = 1 << 20
	layerAsmBudget    = 128 << 10
)

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
	if n := size.Go + size.Asm; n > suiteSourceBudget {
		t.Errorf("suite: %d bytes of generated Go and assembly, over the budget of %d", n, suiteSourceBudget)
	}
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".s") {
			t.Logf("%s: %d bytes", f.Name, len(f.Data))
			if len(f.Data) > layerAsmBudget {
				t.Errorf("%s: %d bytes of assembly, over the budget of %d per layer", f.Name, len(f.Data), layerAsmBudget)
			}
		}
	}
}
