package gen

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// avx2Forbidden matches what an AVX2 kernel must not contain: registers
// beyond Y15/X15, ZMM and mask registers, and EVEX-only syntax (embedded
// broadcast, zeroing, rounding). avo can hand out Y16+ silently when more
// than 16 values are live, and such code faults on this AVX2-only machine.
var avx2Forbidden = regexp.MustCompile(`\b([XY](1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b|\.(BCST|Z|SAE|RN_SAE|RZ_SAE|RD_SAE|RU_SAE)\b|\{`)

// specFiles are the specs whose generated assembly the tests read.
var asmSpecFiles = []string{
	"../generated/suite.yaml",
	"../generated/golden.yaml",
	"testdata/spec/every_option.yaml",
	"testdata/spec/resnet_block.yaml",
	"testdata/spec/small.json",
}

func generateAll(t *testing.T, path string) []OutputFile {
	t.Helper()
	s, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// zeroMaskedStore matches a zero-masked store (VMOVUPS.Z Z0, K1, (AX)):
// it assembles, but faults with SIGILL.
var zeroMaskedStore = regexp.MustCompile(`^\s*V\w+\.Z\s+[XYZ]\d+,\s*K\d,\s*[-\w]*\(`)

// TestAsmAVX2Only reads every generated amd64 .s file and fails on
// registers or encodings beyond AVX2 (Y16–Y31, Z and K registers, EVEX
// suffixes) in any file whose name does not say avx512. Those, the AVX-512
// micro-kernels, must have EVEX code, no zero-masked store and the same
// header and build constraint.
func TestAsmAVX2Only(t *testing.T) {
	n, n512 := 0, 0
	for _, spec := range asmSpecFiles {
		for _, f := range generateAll(t, spec) {
			if !strings.HasSuffix(f.Name, ".s") || strings.Contains(f.Name, "_arm64_") {
				continue
			}
			if strings.Contains(f.Name, "avx512") {
				n512++
				evex := false
				for i, line := range strings.Split(string(f.Data), "\n") {
					code, _, _ := strings.Cut(line, "//")
					evex = evex || avx2Forbidden.MatchString(code)
					if zeroMaskedStore.MatchString(code) {
						t.Errorf("%s: %s:%d: a zero-masked store faults: %s", filepath.Base(spec), f.Name, i+1, strings.TrimSpace(line))
					}
				}
				if !evex {
					t.Errorf("%s: %s is named avx512 but has no AVX-512 code", filepath.Base(spec), f.Name)
				}
				for _, e := range unsetMasks(string(f.Data)) {
					t.Errorf("%s: %s: %s", filepath.Base(spec), f.Name, e)
				}
				if !bytes.HasPrefix(f.Data, []byte(Header+"\n")) || !bytes.Contains(f.Data, []byte("\n//go:build amd64 && !purego\n")) {
					t.Errorf("%s: %s lacks the header or the amd64 && !purego build constraint", spec, f.Name)
				}
				continue
			}
			n++
			for i, line := range strings.Split(string(f.Data), "\n") {
				code, _, _ := strings.Cut(line, "//")
				if m := avx2Forbidden.FindString(code); m != "" {
					t.Errorf("%s: %s:%d uses %q, which is not AVX2: %s", filepath.Base(spec), f.Name, i+1, m, strings.TrimSpace(line))
				}
			}
			if !bytes.HasPrefix(f.Data, []byte(Header+"\n")) {
				t.Errorf("%s: %s does not start with %q", spec, f.Name, Header)
			}
			if !bytes.Contains(f.Data, []byte("\n//go:build amd64 && !purego\n")) {
				t.Errorf("%s: %s lacks the amd64 && !purego build constraint", spec, f.Name)
			}
		}
	}
	if n == 0 || n512 == 0 {
		t.Fatalf("no assembly generated for any spec (AVX2 files %d, AVX-512 files %d)", n, n512)
	}
}

var (
	kRegUse = regexp.MustCompile(`\bK[1-7]\b`)
	kRegSet = regexp.MustCompile(`^\s*KMOVW\s+\w+,\s*(K[1-7])\s*$`)
)

// unsetMasks returns, for each function of the assembly src, the opmask
// registers it uses before a KMOVW sets them: such a register holds
// whatever the caller left in it.
func unsetMasks(src string) []string {
	var errs []string
	fn, set := "", map[string]bool{}
	for i, line := range strings.Split(src, "\n") {
		code, _, _ := strings.Cut(line, "//")
		if strings.HasPrefix(code, "TEXT ") {
			fn, set = code, map[string]bool{}
			continue
		}
		if m := kRegSet.FindStringSubmatch(code); m != nil {
			set[m[1]] = true
			continue
		}
		for _, k := range kRegUse.FindAllString(code, -1) {
			if !set[k] {
				errs = append(errs, fmt.Sprintf("line %d (%s): %s used before it is set: %s", i+1, strings.TrimSpace(fn), k, strings.TrimSpace(line)))
			}
		}
	}
	return errs
}

// TestAsmForbiddenPattern checks that the scan catches what it must.
func TestAsmForbiddenPattern(t *testing.T) {
	for _, bad := range []string{"VMOVUPS Y16, (AX)", "VADDPS Z1, Z2, Z3", "VFMADD231PS.BCST (AX), Y1, Y2", "KMOVW K1, AX", "VMOVUPS X20, X1"} {
		if !avx2Forbidden.MatchString(bad) {
			t.Errorf("scan misses %q", bad)
		}
	}
	for _, ok := range []string{"VMOVUPS Y15, 32(AX)", "VFMADD231PS Y12, Y15, Y0", "VBROADCASTSS 4(R8), Y3", "ADDQ $0x00000040, R9"} {
		if avx2Forbidden.MatchString(ok) {
			t.Errorf("scan flags %q", ok)
		}
	}
	if e := unsetMasks("TEXT ·f(SB)\n\tMOVL $0xff, AX\n\tKMOVW AX, K1\n\tVMOVUPS.Z (SI), K3, Z1\n\tVMOVUPS Z1, K1, (DI)\nTEXT ·g(SB)\n\tVMOVUPS Z1, K1, (DI)\n"); len(e) != 2 {
		t.Errorf("unset-mask scan: %q, want K3 in f and K1 in g", e)
	}
	for _, bad := range []string{"\tVMOVUPS.Z Z3, K1, 64(DI)", "VMOVUPS.Z Z0, K1, (AX)"} {
		if !zeroMaskedStore.MatchString(bad) {
			t.Errorf("zero-masked store scan misses %q", bad)
		}
	}
	for _, ok := range []string{"\tVMOVUPS.Z 64(SI), K1, Z7", "\tVMOVUPS Z3, K1, 64(DI)", "\tVADDPS.Z (R11), Z0, K1, Z0"} {
		if zeroMaskedStore.MatchString(ok) {
			t.Errorf("zero-masked store scan flags %q", ok)
		}
	}
}

// TestAsmDeterministic generates the suite's assembly twice and compares.
func TestAsmDeterministic(t *testing.T) {
	a := generateAll(t, "../generated/suite.yaml")
	b := generateAll(t, "../generated/suite.yaml")
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Name)
		}
	}
}

// TestAsmPlanRegisters checks the register budget and the slice bounds of
// every kernel of the suite's plans.
func TestAsmPlanRegisters(t *testing.T) {
	s, err := LoadSpec("../generated/suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range s.Layers {
		pl, err := NewPlan(l)
		if err != nil {
			t.Fatal(err)
		}
		a := pl.Asm
		if a == nil {
			t.Fatalf("%s: fixed layer without an AVX2 plan", l.Name)
		}
		for _, k := range a.Kernels {
			regs := k.M*k.P + k.P + 1
			if a.MemFMA {
				regs = k.M*k.P + 1
			}
			if regs > 16 {
				t.Errorf("%s: kernel %s needs %d YMM registers", l.Name, k.Name, regs)
			}
		}
		if a.NPB*a.P+a.Nt*a.Pt != a.NV {
			t.Errorf("%s: pixel blocks %d×%d + %d×%d do not cover %d vectors", l.Name, a.NPB, a.P, a.Nt, a.Pt, a.NV)
		}
		if !a.DirectIn && a.InLen < (pl.P.InC-1)*a.PS+a.MaxOff+a.NV*8 {
			t.Errorf("%s: packed input %d floats, kernels read %d", l.Name, a.InLen, (pl.P.InC-1)*a.PS+a.MaxOff+a.NV*8)
		}
	}
}

// neonForbidden matches what the arm64 files must not touch: R18 (the
// platform register), R27 (the assembler's temporary), g, the frame pointer
// and the link register, and any x86 register name.
var neonForbidden = regexp.MustCompile(`\b(R18|R2[7-9]|R30|g|LR|[XYZ][0-9]+)\b`)

// TestAsmNEON reads every generated arm64 .s file: header, build
// constraint, no reserved register, and every WORD carries the instruction
// it encodes.
func TestAsmNEON(t *testing.T) {
	n := 0
	for _, spec := range asmSpecFiles {
		for _, f := range generateAll(t, spec) {
			if !strings.HasSuffix(f.Name, "_arm64_dygen.s") {
				continue
			}
			n++
			for i, line := range strings.Split(string(f.Data), "\n") {
				code, note, _ := strings.Cut(line, "//")
				if m := neonForbidden.FindString(code); m != "" {
					t.Errorf("%s: %s:%d uses %q: %s", filepath.Base(spec), f.Name, i+1, m, strings.TrimSpace(line))
				}
				if strings.Contains(code, "WORD") && !regexp.MustCompile(`^ (fmla|fmul|fadd|fsub|fdiv|fmax|fmin|faddp|frintn|fcvtzs|fcvtl2?) `).MatchString(note) {
					t.Errorf("%s: %s:%d: a WORD without its instruction: %s", filepath.Base(spec), f.Name, i+1, strings.TrimSpace(line))
				}
			}
			if !bytes.HasPrefix(f.Data, []byte(Header+"\n")) {
				t.Errorf("%s: %s does not start with %q", spec, f.Name, Header)
			}
			if !bytes.Contains(f.Data, []byte("\n//go:build arm64 && !purego\n")) {
				t.Errorf("%s: %s lacks the arm64 && !purego build constraint", spec, f.Name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no arm64 assembly generated for any spec")
	}
}
