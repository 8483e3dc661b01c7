package arm64asm

import "fmt"

// Encodings of the ASIMD instructions Go's assembler does not spell, from
// the Arm Architecture Reference Manual (A64 SIMD "three same", "two-register
// miscellaneous" and "vector × indexed element" classes), each a base word
// with registers 0 and the Q bit set for 128 bits. enc_test.go checks every
// one against aarch64-linux-gnu-objdump for all registers and lanes.

// ops3 are the three-register forms: Rd = Rn op Rm, Rm at bit 16.
var ops3 = map[string]struct {
	base uint32
	arr  string // GNU arrangement
}{
	"fadd":   {0x4E20D400, "4s"},
	"fsub":   {0x4EA0D400, "4s"},
	"fmul":   {0x6E20DC00, "4s"},
	"fdiv":   {0x6E20FC00, "4s"},
	"fmax":   {0x4E20F400, "4s"},
	"fmin":   {0x4EA0F400, "4s"},
	"faddp":  {0x6E20D400, "4s"},
	"fadd2d": {0x4E60D400, "2d"},
}

// ops2 are the two-register forms: Rd = op Rn.
var ops2 = map[string]struct {
	base     uint32
	gnu      string // mnemonic
	dst, src string // GNU operand spellings: "v%d.4s", "d%d"
}{
	"frintn":  {0x4E218800, "frintn", "v%d.4s", "v%d.4s"},
	"fcvtzs":  {0x4EA1B800, "fcvtzs", "v%d.4s", "v%d.4s"},
	"fcvtl":   {0x0E617800, "fcvtl", "v%d.2d", "v%d.2s"},
	"fcvtl2":  {0x4E617800, "fcvtl2", "v%d.2d", "v%d.4s"},
	"faddp2d": {0x7E70D800, "faddp", "d%d", "v%d.2d"},
}

func check5(regs ...uint32) {
	for _, r := range regs {
		if r > 31 {
			panic(fmt.Sprintf("arm64asm: register %d out of 0–31", r))
		}
	}
}

// Enc3 encodes three-register op d = a op b.
func Enc3(op string, d, a, b uint32) uint32 {
	o, ok := ops3[op]
	if !ok {
		panic("arm64asm: no three-register op " + op)
	}
	check5(d, a, b)
	return o.base | b<<16 | a<<5 | d
}

// GNU3 is Enc3's instruction in GNU syntax.
func GNU3(op string, d, a, b uint32) string {
	o := ops3[op]
	m := op
	if op == "fadd2d" {
		m = "fadd"
	}
	return fmt.Sprintf("%s v%d.%s, v%d.%s, v%d.%s", m, d, o.arr, a, o.arr, b, o.arr)
}

// Enc2 encodes two-register op d = op n.
func Enc2(op string, d, n uint32) uint32 {
	o, ok := ops2[op]
	if !ok {
		panic("arm64asm: no two-register op " + op)
	}
	check5(d, n)
	return o.base | n<<5 | d
}

// GNU2 is Enc2's instruction in GNU syntax.
func GNU2(op string, d, n uint32) string {
	o := ops2[op]
	return o.gnu + " " + fmt.Sprintf(o.dst, d) + ", " + fmt.Sprintf(o.src, n)
}

// elem encodes a single-precision by-element op: lane = H:L, Rm = M:Rm.
func elem(base, d, n, m, lane uint32) uint32 {
	check5(d, n, m)
	if lane > 3 {
		panic(fmt.Sprintf("arm64asm: lane %d of .s", lane))
	}
	return base | (lane&1)<<21 | (m>>4)<<20 | (m&15)<<16 | (lane>>1)<<11 | n<<5 | d
}

// EncFMLAElem encodes fmla d.4s, n.4s, m.s[lane].
func EncFMLAElem(d, n, m, lane uint32) uint32 { return elem(0x4F801000, d, n, m, lane) }

// GNUFMLAElem is EncFMLAElem's instruction in GNU syntax.
func GNUFMLAElem(d, n, m, lane uint32) string {
	return fmt.Sprintf("fmla v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, lane)
}

// EncFMULElem encodes fmul d.4s, n.4s, m.s[lane].
func EncFMULElem(d, n, m, lane uint32) uint32 { return elem(0x4F809000, d, n, m, lane) }

// GNUFMULElem is EncFMULElem's instruction in GNU syntax.
func GNUFMULElem(d, n, m, lane uint32) string {
	return fmt.Sprintf("fmul v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, lane)
}
