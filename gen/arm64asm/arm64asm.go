// Package arm64asm builds Go arm64 assembly as data and prints it: the
// arm64 counterpart of the avo build → printer pipeline that dygen's amd64
// backend uses (avo has no arm64 support).
//
// A File holds functions; a Func holds instructions, each an Inst value
// made by one of Func's constructors. The constructors check their operands
// as avo's forms do (register numbers, arrangements, reserved registers,
// post-increment sizes, displacements that one instruction can encode) and
// panic with the function text built so far when a kernel generator asks for
// something illegal: that is a bug in the generator, not bad user input.
//
// Go's assembler has no floating-point vector arithmetic but FMLA/FMLS in
// vector form. The forms the kernels need beyond that (FMLA by element,
// FADD, FMUL, FDIV, FMAX, FMIN, FRINTN, FCVTZS, FCVTL, FADDP) are emitted as
// WORD directives whose encodings are computed here (enc.go) and tested
// against GNU binutils' disassembler; each WORD carries the instruction in
// GNU syntax as a comment.
package arm64asm

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Reg is a general-purpose register R0–R26 (R18 and R27–R30 are reserved:
// platform register, assembler temporary, g, frame pointer, link register).
type Reg int

// R returns general-purpose register n.
func R(n int) Reg {
	if n < 0 || n > 26 || n == 18 {
		panic(fmt.Sprintf("arm64asm: R%d is not a usable general-purpose register (R0–R17, R19–R26)", n))
	}
	return Reg(n)
}

func (r Reg) String() string { return fmt.Sprintf("R%d", int(r)) }

// V is a vector register V0–V31.
type V int

// Vec returns vector register n.
func Vec(n int) V {
	if n < 0 || n > 31 {
		panic(fmt.Sprintf("arm64asm: V%d is not a vector register (V0–V31)", n))
	}
	return V(n)
}

func (v V) n() uint32 { return uint32(v) }

// S4 prints v as four single-precision lanes (Go's V1.S4).
func (v V) S4() string { return fmt.Sprintf("V%d.S4", int(v)) }

// D2 prints v as two double-precision lanes.
func (v V) D2() string { return fmt.Sprintf("V%d.D2", int(v)) }

// B16 prints v as sixteen bytes.
func (v V) B16() string { return fmt.Sprintf("V%d.B16", int(v)) }

// F prints v's scalar view (Go's F registers alias the V registers).
func (v V) F() string { return fmt.Sprintf("F%d", int(v)) }

// Inst is one instruction (or a label, or a WORD) of a function.
type Inst struct {
	Label string // a label line when set (Op empty)
	Op    string // Go opcode, "WORD" for an encoded word
	Args  string // operands in Go syntax
	Note  string // a comment: for a WORD, the GNU spelling
}

// Func is one assembly function.
type Func struct {
	Name   string
	Doc    []string
	Sig    string
	Args   []Param // the Go signature's arguments and results, in frame order
	Frame  int     // bytes of arguments and results
	Insts  []Inst
	labels map[string]bool
	refs   map[string]bool
}

// Param is one named argument or result of a Go signature: its offset in
// the argument frame and its asmdecl name (x_base, x_len, n, ret).
type Param struct {
	Name string
	Type string
	Off  int
}

// File is a Go assembly file of one package.
type File struct {
	Constraint string // the //go:build expression
	Funcs      []*Func
	names      map[string]bool
}

// NewFile returns an empty file with the given build constraint.
func NewFile(constraint string) *File {
	return &File{Constraint: constraint, names: map[string]bool{}}
}

// Func starts a function named name with Go signature sig ("func(x
// []float32, n int) float32"); doc is its comment.
func (f *File) Func(name, sig string, doc ...string) *Func {
	if f.names[name] {
		panic(fmt.Sprintf("arm64asm: function %s defined twice", name))
	}
	f.names[name] = true
	args, frame, err := parseSig(sig)
	if err != nil {
		panic(fmt.Sprintf("arm64asm: function %s: %v", name, err))
	}
	fn := &Func{Name: name, Doc: doc, Sig: sig, Args: args, Frame: frame, labels: map[string]bool{}, refs: map[string]bool{}}
	f.Funcs = append(f.Funcs, fn)
	return fn
}

// sizes of the Go types a kernel signature may use (arm64, gc ABI0).
var typeSize = map[string]int{"[]float32": 24, "[]float64": 24, "[]int32": 24, "[]int": 24, "int": 8, "float32": 4, "float64": 8, "*[8]float32": 8}

// parseSig lays out a signature's arguments and results in the ABI0 frame:
// each at its natural alignment, results starting at a pointer-aligned
// offset; the frame ends where the last one does (as asmdecl counts it).
func parseSig(sig string) ([]Param, int, error) {
	s, ok := strings.CutPrefix(sig, "func(")
	if !ok {
		return nil, 0, fmt.Errorf("signature %q does not start with func(", sig)
	}
	in, res, ok := strings.Cut(s, ")")
	if !ok {
		return nil, 0, fmt.Errorf("signature %q has no closing parenthesis", sig)
	}
	var params []Param
	off := 0
	place := func(name, typ string) error {
		size, ok := typeSize[typ]
		if !ok {
			return fmt.Errorf("signature %q: type %s is not supported", sig, typ)
		}
		align := min(size, 8)
		off = (off + align - 1) / align * align
		params = append(params, Param{Name: name, Type: typ, Off: off})
		off += size
		return nil
	}
	var names []string
	for _, field := range strings.Split(in, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		name, typ, hasType := strings.Cut(field, " ")
		names = append(names, name)
		if hasType {
			for _, n := range names {
				if err := place(n, strings.TrimSpace(typ)); err != nil {
					return nil, 0, err
				}
			}
			names = nil
		}
	}
	if len(names) > 0 {
		return nil, 0, fmt.Errorf("signature %q: arguments %v have no type", sig, names)
	}
	if res = strings.TrimSpace(res); res != "" {
		off = (off + 7) / 8 * 8
		if err := place("ret", res); err != nil {
			return nil, 0, err
		}
	}
	return params, off, nil
}

func (fn *Func) param(name string) Param {
	for _, p := range fn.Args {
		if p.Name == name {
			return p
		}
	}
	fn.fail("no argument %q in %s", name, fn.Sig)
	return Param{}
}

// fail panics with the function text built so far.
func (fn *Func) fail(format string, args ...any) {
	var b bytes.Buffer
	fn.print(&b)
	panic(fmt.Sprintf("arm64asm: %s: %s\nfunction so far:\n%s", fn.Name, fmt.Sprintf(format, args...), b.String()))
}

func (fn *Func) add(op, args, note string) {
	fn.Insts = append(fn.Insts, Inst{Op: op, Args: args, Note: note})
}

// LoadBase loads slice argument name's data pointer into r.
func (fn *Func) LoadBase(name string, r Reg) {
	p := fn.param(name)
	if !strings.HasPrefix(p.Type, "[]") {
		fn.fail("argument %s is %s, not a slice", name, p.Type)
	}
	fn.add("MOVD", fmt.Sprintf("%s_base+%d(FP), %s", name, p.Off, r), "")
}

// LoadLen loads slice argument name's length into r.
func (fn *Func) LoadLen(name string, r Reg) {
	p := fn.param(name)
	if !strings.HasPrefix(p.Type, "[]") {
		fn.fail("argument %s is %s, not a slice", name, p.Type)
	}
	fn.add("MOVD", fmt.Sprintf("%s_len+%d(FP), %s", name, p.Off+8, r), "")
}

// LoadInt loads int argument name into r.
func (fn *Func) LoadInt(name string, r Reg) {
	p := fn.param(name)
	if p.Type != "int" {
		fn.fail("argument %s is %s, not int", name, p.Type)
	}
	fn.add("MOVD", fmt.Sprintf("%s+%d(FP), %s", name, p.Off, r), "")
}

// LoadPtr loads pointer argument name into r.
func (fn *Func) LoadPtr(name string, r Reg) {
	p := fn.param(name)
	if !strings.HasPrefix(p.Type, "*") {
		fn.fail("argument %s is %s, not a pointer", name, p.Type)
	}
	fn.add("MOVD", fmt.Sprintf("%s+%d(FP), %s", name, p.Off, r), "")
}

// StoreRetS stores lane 0 of v (a float32) as the function's result.
func (fn *Func) StoreRetS(v V) {
	p := fn.param("ret")
	if p.Type != "float32" {
		fn.fail("result is %s, not float32", p.Type)
	}
	fn.add("FMOVS", fmt.Sprintf("%s, ret+%d(FP)", v.F(), p.Off), "")
}

// MOVD copies r into d.
func (fn *Func) MOVD(r, d Reg) { fn.add("MOVD", fmt.Sprintf("%s, %s", r, d), "") }

// MOVDImm sets d to the 64-bit constant c (the assembler picks MOVZ/MOVK).
func (fn *Func) MOVDImm(c int64, d Reg) { fn.add("MOVD", fmt.Sprintf("$%d, %s", c, d), "") }

// MOVWImm sets d to the 32-bit pattern c.
func (fn *Func) MOVWImm(c uint32, d Reg) { fn.add("MOVW", fmt.Sprintf("$0x%08x, %s", c, d), "") }

// ADDImm sets d = s + c (c ≥ 0; the assembler splits a constant over 12
// bits into two instructions).
func (fn *Func) ADDImm(c int, s, d Reg) {
	if c < 0 || c >= 1<<24 {
		fn.fail("ADD immediate %d out of [0, 2^24)", c)
	}
	if s == d {
		fn.add("ADD", fmt.Sprintf("$%d, %s", c, d), "")
		return
	}
	fn.add("ADD", fmt.Sprintf("$%d, %s, %s", c, s, d), "")
}

// ADDReg sets d = a + b.
func (fn *Func) ADDReg(a, b, d Reg) { fn.add("ADD", fmt.Sprintf("%s, %s, %s", a, b, d), "") }

// LSLImm sets d = s << c.
func (fn *Func) LSLImm(c int, s, d Reg) {
	if c < 0 || c > 63 {
		fn.fail("LSL by %d", c)
	}
	fn.add("LSL", fmt.Sprintf("$%d, %s, %s", c, s, d), "")
}

// SUBSImm sets d = s − c and the flags.
func (fn *Func) SUBSImm(c int, s, d Reg) {
	if c < 0 || c >= 1<<12 {
		fn.fail("SUBS immediate %d out of [0, 4096)", c)
	}
	fn.add("SUBS", fmt.Sprintf("$%d, %s, %s", c, s, d), "")
}

// SUBImm sets d = s − c (0 ≤ c < 4096).
func (fn *Func) SUBImm(c int, s, d Reg) {
	if c < 0 || c >= 1<<12 {
		fn.fail("SUB immediate %d out of [0, 4096)", c)
	}
	fn.add("SUB", fmt.Sprintf("$%d, %s, %s", c, s, d), "")
}

// CMPReg compares a with b: a following BLT branches when a < b (signed).
func (fn *Func) CMPReg(a, b Reg) { fn.add("CMP", fmt.Sprintf("%s, %s", b, a), "") }

// CMPImm compares r with c: a following BLT branches when r < c.
func (fn *Func) CMPImm(c int, r Reg) {
	if c < 0 || c >= 1<<12 {
		fn.fail("CMP immediate %d out of [0, 4096)", c)
	}
	fn.add("CMP", fmt.Sprintf("$%d, %s", c, r), "")
}

// ANDImm sets d = s & c for a mask c = 2^k − 1.
func (fn *Func) ANDImm(c int, s, d Reg) {
	if c <= 0 || c&(c+1) != 0 {
		fn.fail("AND immediate %d is not 2^k − 1", c)
	}
	fn.add("AND", fmt.Sprintf("$%d, %s, %s", c, s, d), "")
}

// LSRImm sets d = s >> c (logical).
func (fn *Func) LSRImm(c int, s, d Reg) {
	if c < 0 || c > 63 {
		fn.fail("LSR by %d", c)
	}
	fn.add("LSR", fmt.Sprintf("$%d, %s, %s", c, s, d), "")
}

// Label places label l.
func (fn *Func) Label(l string) {
	if fn.labels[l] {
		fn.fail("label %s placed twice", l)
	}
	fn.labels[l] = true
	fn.Insts = append(fn.Insts, Inst{Label: l})
}

// BNE branches to l when the last flag-setting result was not zero.
func (fn *Func) BNE(l string) { fn.refs[l] = true; fn.add("BNE", l, "") }

// BEQ branches to l when it was zero.
func (fn *Func) BEQ(l string) { fn.refs[l] = true; fn.add("BEQ", l, "") }

// BGE branches to l when the last comparison found greater or equal
// (signed).
func (fn *Func) BGE(l string) { fn.refs[l] = true; fn.add("BGE", l, "") }

// BLT branches to l when the last comparison found less than (signed).
func (fn *Func) BLT(l string) { fn.refs[l] = true; fn.add("BLT", l, "") }

// B branches to l.
func (fn *Func) B(l string) { fn.refs[l] = true; fn.add("B", l, "") }

// CBZ branches to l when r is zero.
func (fn *Func) CBZ(r Reg, l string) {
	fn.refs[l] = true
	fn.add("CBZ", fmt.Sprintf("%s, %s", r, l), "")
}

// CBNZ branches to l when r is not zero.
func (fn *Func) CBNZ(r Reg, l string) {
	fn.refs[l] = true
	fn.add("CBNZ", fmt.Sprintf("%s, %s", r, l), "")
}

// RET returns.
func (fn *Func) RET() { fn.add("RET", "", "") }

// PRFM prefetches the line at off(r) for a load into L1 (level 1) or L2
// (level 2): off a multiple of 8 in [0, 32760] (Go's assembler has no
// unscaled PRFUM).
func (fn *Func) PRFM(off int, r Reg, level int) {
	if !PRFMOffsetOK(off) {
		fn.fail("PRFM offset %d is not encodable", off)
	}
	if level != 1 && level != 2 {
		fn.fail("PRFM level %d", level)
	}
	fn.add("PRFM", fmt.Sprintf("%d(%s), PLDL%dKEEP", off, r, level), "")
}

// list prints n consecutive registers from v (mod 32) as a register list.
func (fn *Func) list(v V, n int, arr string) string {
	if n < 1 || n > 4 {
		fn.fail("register list of %d registers (1–4)", n)
	}
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, fmt.Sprintf("V%d.%s", (int(v)+i)%32, arr))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// VLD1 loads n consecutive registers from v on from (r).
func (fn *Func) VLD1(r Reg, v V, n int) {
	fn.add("VLD1", fmt.Sprintf("(%s), %s", r, fn.list(v, n, "S4")), "")
}

// VLD1P loads n consecutive registers from (r) and moves r on by 16·n.
func (fn *Func) VLD1P(r Reg, v V, n int) {
	fn.add("VLD1.P", fmt.Sprintf("%d(%s), %s", 16*n, r, fn.list(v, n, "S4")), "")
}

// VST1 stores n consecutive registers from v on at (r).
func (fn *Func) VST1(v V, n int, r Reg) {
	fn.add("VST1", fmt.Sprintf("%s, (%s)", fn.list(v, n, "S4"), r), "")
}

// VST1P stores n consecutive registers at (r) and moves r on by 16·n.
func (fn *Func) VST1P(v V, n int, r Reg) {
	fn.add("VST1.P", fmt.Sprintf("%s, %d(%s)", fn.list(v, n, "S4"), 16*n, r), "")
}

// VLD1R loads the float32 at (r) into every lane of v.
func (fn *Func) VLD1R(r Reg, v V) { fn.add("VLD1R", fmt.Sprintf("(%s), [%s]", r, v.S4()), "") }

// OffsetOK reports whether a load or store of size bytes (4, 8 or 16)
// reaches off(r) in one instruction: unscaled in [−256, 255], or a
// non-negative multiple of size up to 4095·size.
func OffsetOK(off, size int) bool {
	return off >= -256 && off <= 255 || off >= 0 && off%size == 0 && off <= 4095*size
}

// PairOffsetOK reports whether LDP/STP of two Q registers reaches off in
// one instruction: a multiple of 16 in [−1024, 1008].
func PairOffsetOK(off int) bool { return off%16 == 0 && off >= -1024 && off <= 1008 }

// PRFMOffsetOK reports whether PRFM reaches off: a multiple of 8 in
// [0, 32760] (Go's assembler has no unscaled PRFUM).
func PRFMOffsetOK(off int) bool { return off >= 0 && off%8 == 0 && off <= 32760 }

// LDRQ loads the 16 bytes at off(r) into v.
func (fn *Func) LDRQ(off int, r Reg, v V) {
	if !OffsetOK(off, 16) {
		fn.fail("LDR Q offset %d needs more than one instruction", off)
	}
	fn.add("FMOVQ", fmt.Sprintf("%d(%s), %s", off, r, v.F()), "")
}

// STRQ stores v at off(r).
func (fn *Func) STRQ(v V, off int, r Reg) {
	if !OffsetOK(off, 16) {
		fn.fail("STR Q offset %d needs more than one instruction", off)
	}
	fn.add("FMOVQ", fmt.Sprintf("%s, %d(%s)", v.F(), off, r), "")
}

// LDRS loads the float32 at off(r) into lane 0 of v (the others zeroed).
func (fn *Func) LDRS(off int, r Reg, v V) {
	if !OffsetOK(off, 4) {
		fn.fail("LDR S offset %d needs more than one instruction", off)
	}
	fn.add("FMOVS", fmt.Sprintf("%d(%s), %s", off, r, v.F()), "")
}

// STRS stores lane 0 of v at off(r).
func (fn *Func) STRS(v V, off int, r Reg) {
	if !OffsetOK(off, 4) {
		fn.fail("STR S offset %d needs more than one instruction", off)
	}
	fn.add("FMOVS", fmt.Sprintf("%s, %d(%s)", v.F(), off, r), "")
}

// LDRX loads the 64-bit integer at off(r) into d.
func (fn *Func) LDRX(off int, r, d Reg) {
	if !OffsetOK(off, 8) {
		fn.fail("LDR X offset %d needs more than one instruction", off)
	}
	fn.add("MOVD", fmt.Sprintf("%d(%s), %s", off, r, d), "")
}

// LDRSW loads the int32 at off(r), sign-extended, into d.
func (fn *Func) LDRSW(off int, r, d Reg) {
	if !OffsetOK(off, 4) {
		fn.fail("LDRSW offset %d needs more than one instruction", off)
	}
	fn.add("MOVW", fmt.Sprintf("%d(%s), %s", off, r, d), "")
}

// MUL sets d = a·b.
func (fn *Func) MUL(a, b, d Reg) { fn.add("MUL", fmt.Sprintf("%s, %s, %s", b, a, d), "") }

// LDRD loads the float64 at off(r) into lane 0 of v.
func (fn *Func) LDRD(off int, r Reg, v V) {
	if !OffsetOK(off, 8) {
		fn.fail("LDR D offset %d needs more than one instruction", off)
	}
	fn.add("FMOVD", fmt.Sprintf("%d(%s), %s", off, r, v.F()), "")
}

// STRD stores lane 0 of v (a float64) at off(r).
func (fn *Func) STRD(v V, off int, r Reg) {
	if !OffsetOK(off, 8) {
		fn.fail("STR D offset %d needs more than one instruction", off)
	}
	fn.add("FMOVD", fmt.Sprintf("%s, %d(%s)", v.F(), off, r), "")
}

// LDPQ loads the 32 bytes at off(r) into a and b.
func (fn *Func) LDPQ(off int, r Reg, a, b V) {
	if !PairOffsetOK(off) {
		fn.fail("LDP Q offset %d is not a multiple of 16 in [−1024, 1008]", off)
	}
	fn.add("FLDPQ", fmt.Sprintf("%d(%s), (%s, %s)", off, r, a.F(), b.F()), "")
}

// STPQ stores a and b at off(r).
func (fn *Func) STPQ(a, b V, off int, r Reg) {
	if !PairOffsetOK(off) {
		fn.fail("STP Q offset %d is not a multiple of 16 in [−1024, 1008]", off)
	}
	fn.add("FSTPQ", fmt.Sprintf("(%s, %s), %d(%s)", a.F(), b.F(), off, r), "")
}

// VFMLA sets d += n·m, lane by lane (single precision).
func (fn *Func) VFMLA(n, m, d V) {
	fn.add("VFMLA", fmt.Sprintf("%s, %s, %s", m.S4(), n.S4(), d.S4()), "")
}

// VFMLS sets d −= n·m, lane by lane.
func (fn *Func) VFMLS(n, m, d V) {
	fn.add("VFMLS", fmt.Sprintf("%s, %s, %s", m.S4(), n.S4(), d.S4()), "")
}

// VFMLAD sets d += n·m in two double-precision lanes.
func (fn *Func) VFMLAD(n, m, d V) {
	fn.add("VFMLA", fmt.Sprintf("%s, %s, %s", m.D2(), n.D2(), d.D2()), "")
}

// VEOR sets d = a ^ b; VEOR(v, v, v) zeroes v.
func (fn *Func) VEOR(a, b, d V) {
	fn.add("VEOR", fmt.Sprintf("%s, %s, %s", b.B16(), a.B16(), d.B16()), "")
}

// VZero zeroes v.
func (fn *Func) VZero(v V) { fn.VEOR(v, v, v) }

// VMOV copies s into d.
func (fn *Func) VMOV(s, d V) { fn.add("VMOV", fmt.Sprintf("%s, %s", s.B16(), d.B16()), "") }

// VDUPReg sets every lane of d to the low 32 bits of r.
func (fn *Func) VDUPReg(r Reg, d V) { fn.add("VDUP", fmt.Sprintf("%s, %s", r, d.S4()), "") }

// VDUPLane sets every lane of d to lane i of s.
func (fn *Func) VDUPLane(s V, i int, d V) {
	if i < 0 || i > 3 {
		fn.fail("lane %d of .S4", i)
	}
	fn.add("VDUP", fmt.Sprintf("V%d.S[%d], %s", int(s), i, d.S4()), "")
}

// VMOVLaneToReg copies lane i of s into r's low 32 bits.
func (fn *Func) VMOVLaneToReg(s V, i int, r Reg) {
	if i < 0 || i > 3 {
		fn.fail("lane %d of .S4", i)
	}
	fn.add("VMOV", fmt.Sprintf("V%d.S[%d], %s", int(s), i, r), "")
}

// VADDI sets d = a + b, as four 32-bit integers.
func (fn *Func) VADDI(a, b, d V) {
	fn.add("VADD", fmt.Sprintf("%s, %s, %s", b.S4(), a.S4(), d.S4()), "")
}

// VSHL sets d = s << c in each 32-bit lane.
func (fn *Func) VSHL(c int, s, d V) {
	if c < 0 || c > 31 {
		fn.fail("VSHL by %d", c)
	}
	fn.add("VSHL", fmt.Sprintf("$%d, %s, %s", c, s.S4(), d.S4()), "")
}

// Shuffles: d = op(a, b) in GNU operand order (trn1 d, a, b).
func (fn *Func) shuffle(op string, arr string, a, b, d V) {
	fn.add(op, fmt.Sprintf("V%d.%s, V%d.%s, V%d.%s", int(b), arr, int(a), arr, int(d), arr), "")
}

// VTRN1S4 is trn1 d.4s, a.4s, b.4s.
func (fn *Func) VTRN1S4(a, b, d V) { fn.shuffle("VTRN1", "S4", a, b, d) }

// VTRN2S4 is trn2 d.4s, a.4s, b.4s.
func (fn *Func) VTRN2S4(a, b, d V) { fn.shuffle("VTRN2", "S4", a, b, d) }

// VZIP1D2 is zip1 d.2d, a.2d, b.2d.
func (fn *Func) VZIP1D2(a, b, d V) { fn.shuffle("VZIP1", "D2", a, b, d) }

// VZIP2D2 is zip2 d.2d, a.2d, b.2d.
func (fn *Func) VZIP2D2(a, b, d V) { fn.shuffle("VZIP2", "D2", a, b, d) }

// VUZP1S4 is uzp1 d.4s, a.4s, b.4s (the even lanes of a:b).
func (fn *Func) VUZP1S4(a, b, d V) { fn.shuffle("VUZP1", "S4", a, b, d) }

// VUZP2S4 is uzp2 d.4s, a.4s, b.4s (the odd lanes).
func (fn *Func) VUZP2S4(a, b, d V) { fn.shuffle("VUZP2", "S4", a, b, d) }

// FADDS sets lane 0 of d to a + b (scalar single precision).
func (fn *Func) FADDS(a, b, d V) { fn.add("FADDS", fmt.Sprintf("%s, %s, %s", b.F(), a.F(), d.F()), "") }

// FADDDS sets lane 0 of d to a + b (scalar double precision).
func (fn *Func) FADDDS(a, b, d V) {
	fn.add("FADDD", fmt.Sprintf("%s, %s, %s", b.F(), a.F(), d.F()), "")
}

// word emits an encoded instruction with its GNU spelling.
func (fn *Func) word(w uint32, gnu string) {
	fn.add("WORD", fmt.Sprintf("$0x%08x", w), gnu)
}

// FMLAElem sets d += n·m[lane] (fmla d.4s, n.4s, m.s[lane]).
func (fn *Func) FMLAElem(n, m V, lane int, d V) {
	if lane < 0 || lane > 3 {
		fn.fail("FMLA by element lane %d", lane)
	}
	fn.word(EncFMLAElem(d.n(), n.n(), m.n(), uint32(lane)), GNUFMLAElem(d.n(), n.n(), m.n(), uint32(lane)))
}

// FMULElem sets d = n·m[lane].
func (fn *Func) FMULElem(n, m V, lane int, d V) {
	if lane < 0 || lane > 3 {
		fn.fail("FMUL by element lane %d", lane)
	}
	fn.word(EncFMULElem(d.n(), n.n(), m.n(), uint32(lane)), GNUFMULElem(d.n(), n.n(), m.n(), uint32(lane)))
}

// op3 emits one of the three-register vector forms of ops3.
func (fn *Func) op3(op string, a, b, d V) {
	fn.word(Enc3(op, d.n(), a.n(), b.n()), GNU3(op, d.n(), a.n(), b.n()))
}

// FADD sets d = a + b (4 lanes).
func (fn *Func) FADD(a, b, d V) { fn.op3("fadd", a, b, d) }

// FSUB sets d = a − b.
func (fn *Func) FSUB(a, b, d V) { fn.op3("fsub", a, b, d) }

// FMUL sets d = a·b.
func (fn *Func) FMUL(a, b, d V) { fn.op3("fmul", a, b, d) }

// FDIV sets d = a / b.
func (fn *Func) FDIV(a, b, d V) { fn.op3("fdiv", a, b, d) }

// FMAX sets d = max(a, b) (NaN if either is NaN).
func (fn *Func) FMAX(a, b, d V) { fn.op3("fmax", a, b, d) }

// FMIN sets d = min(a, b) (NaN if either is NaN).
func (fn *Func) FMIN(a, b, d V) { fn.op3("fmin", a, b, d) }

// FADDP sets d to the pairwise sums of a:b.
func (fn *Func) FADDP(a, b, d V) { fn.op3("faddp", a, b, d) }

// FADDD sets d = a + b in two double-precision lanes.
func (fn *Func) FADDD(a, b, d V) { fn.op3("fadd2d", a, b, d) }

// op2 emits one of the two-register forms of ops2.
func (fn *Func) op2(op string, n, d V) { fn.word(Enc2(op, d.n(), n.n()), GNU2(op, d.n(), n.n())) }

// FRINTN rounds each lane of n to the nearest integer, ties to even.
func (fn *Func) FRINTN(n, d V) { fn.op2("frintn", n, d) }

// FCVTZS converts each lane of n to a 32-bit integer (toward zero).
func (fn *Func) FCVTZS(n, d V) { fn.op2("fcvtzs", n, d) }

// FCVTL widens lanes 0–1 of n to two doubles.
func (fn *Func) FCVTL(n, d V) { fn.op2("fcvtl", n, d) }

// FCVTL2 widens lanes 2–3 of n to two doubles.
func (fn *Func) FCVTL2(n, d V) { fn.op2("fcvtl2", n, d) }

// FADDPD sets lane 0 of d (a double) to the sum of n's two lanes.
func (fn *Func) FADDPD(n, d V) { fn.op2("faddp2d", n, d) }

// Comment adds a comment line.
func (fn *Func) Comment(s string) { fn.Insts = append(fn.Insts, Inst{Note: s}) }

// check reports labels branched to but never placed.
func (fn *Func) check() {
	var missing []string
	for l := range fn.refs {
		if !fn.labels[l] {
			missing = append(missing, l)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		fn.fail("branches to labels never placed: %v", missing)
	}
	if n := len(fn.Insts); n == 0 || fn.Insts[n-1].Op != "RET" {
		fn.fail("does not end in RET")
	}
}

func (fn *Func) print(b *bytes.Buffer) {
	for _, d := range fn.Doc {
		for _, line := range strings.Split(d, "\n") {
			if line == "" {
				b.WriteString("//\n")
			} else {
				fmt.Fprintf(b, "// %s\n", line)
			}
		}
	}
	fmt.Fprintf(b, "// func %s%s\n", fn.Name, strings.TrimPrefix(fn.Sig, "func"))
	fmt.Fprintf(b, "TEXT ·%s(SB), NOSPLIT|NOFRAME, $0-%d\n", fn.Name, fn.Frame)
	for _, in := range fn.Insts {
		switch {
		case in.Label != "":
			fmt.Fprintf(b, "\n%s:\n", in.Label)
		case in.Op == "":
			fmt.Fprintf(b, "\t// %s\n", in.Note)
		default:
			line := "\t" + in.Op
			switch {
			case in.Op == "WORD":
				line = fmt.Sprintf("\tWORD %s", in.Args)
			case in.Args != "":
				line = fmt.Sprintf("\t%-8s %s", in.Op, in.Args)
			}
			if in.Note != "" {
				line += " // " + in.Note
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
}

// Bytes prints the file: header, build constraint, textflag.h, then each
// function.
func (f *File) Bytes(header string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n\n//go:build %s\n\n#include \"textflag.h\"\n", header, f.Constraint)
	for _, fn := range f.Funcs {
		fn.check()
		b.WriteString("\n")
		fn.print(&b)
	}
	return b.Bytes()
}
