package verify

import (
	"testing"

	"github.com/dygen/dygen/dyrt"
)

// TestDyrtGeometry checks the runtime's geometry helpers, which generated
// code uses, against the oracle's definitions, exhaustively on small sizes.
func TestDyrtGeometry(t *testing.T) {
	modes := map[string]int{Zeros: dyrt.ModeZeros, Reflect: dyrt.ModeReflect, Replicate: dyrt.ModeReplicate, Circular: dyrt.ModeCircular}
	for mode, m := range modes {
		for n := 1; n <= 9; n++ {
			for i := -n; i < 2*n; i++ {
				if got, want := dyrt.PadIndex(m, i, n), MapIndex(mode, i, n); got != want {
					t.Fatalf("PadIndex(%s, %d, %d) = %d, MapIndex %d", mode, i, n, got, want)
				}
			}
		}
	}
	for k := 1; k <= 4; k++ {
		for d := 1; d <= 3; d++ {
			for s := 1; s <= 3; s++ {
				for pa := 0; pa <= 3; pa++ {
					for pb := 0; pb <= 3; pb++ {
						for mode, m := range modes {
							p := Params{InC: 1, OutC: 1, KH: k, KW: 1, SH: s, SW: 1, DH: d, DW: 1, PadT: pa, PadB: pb, Groups: 1, K: 1, Mode: mode}
							for n := 1; n <= 10; n++ {
								ho, _ := p.OutputSize(n, 1)
								if got := dyrt.OutSize(n, pa+pb, k, s, d); got != ho {
									t.Fatalf("OutSize(%d, %d, %d, %d, %d) = %d, want %d", n, pa+pb, k, s, d, got, ho)
								}
								e1 := p.CheckInput(n, 1)
								e2 := dyrt.CheckSize(n, 1, k, 1, d, 1, pa, pb, 0, 0, m)
								if (e1 == nil) != (e2 == nil) {
									t.Fatalf("%v on %dx1: CheckInput %v, CheckSize %v", p, n, e1, e2)
								}
								if e1 != nil || ho <= 0 {
									continue
								}
								lo, hi := dyrt.InteriorRange(n, ho, k, s, pa, d)
								for o := range ho {
									inside := true
									for tap := range k {
										if c := o*s - pa + tap*d; c < 0 || c >= n {
											inside = false
										}
									}
									if inside != (o >= lo && o < hi) {
										t.Fatalf("InteriorRange(%d, %d, %d, %d, %d, %d) = [%d, %d), but output %d interior=%v", n, ho, k, s, pa, d, lo, hi, o, inside)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
