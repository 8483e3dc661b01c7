package arm64asm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The reference words of Go's own test data (arm64enc.s keeps FMLA by
// element as a TODO with these encodings) and of the design note.
func TestEncodingReferenceWords(t *testing.T) {
	require.Equal(t, uint32(0x4fa21020), EncFMLAElem(0, 1, 2, 1), "fmla v0.4s, v1.4s, v2.s[1]")
	require.Equal(t, uint32(0x4F809000), EncFMULElem(0, 0, 0, 0))
	require.Equal(t, uint32(0x4E20D400), Enc3("fadd", 0, 0, 0))
	require.Equal(t, uint32(0x6E20DC00), Enc3("fmul", 0, 0, 0))
	require.Equal(t, uint32(0x4E20F400), Enc3("fmax", 0, 0, 0))
	require.Equal(t, uint32(0x4EA0F400), Enc3("fmin", 0, 0, 0))
	require.Equal(t, uint32(0x6E20D400), Enc3("faddp", 0, 0, 0))
}

type encCase struct {
	word uint32
	gnu  string
}

// allEncodings lists every word this package can emit: all registers, and
// all lanes of the by-element forms.
func allEncodings() []encCase {
	var cs []encCase
	for d := uint32(0); d < 32; d++ {
		for n := uint32(0); n < 32; n++ {
			for op := range ops2 {
				cs = append(cs, encCase{Enc2(op, d, n), GNU2(op, d, n)})
			}
			for m := uint32(0); m < 32; m++ {
				for op := range ops3 {
					cs = append(cs, encCase{Enc3(op, d, n, m), GNU3(op, d, n, m)})
				}
				for lane := uint32(0); lane < 4; lane++ {
					cs = append(cs, encCase{EncFMLAElem(d, n, m, lane), GNUFMLAElem(d, n, m, lane)})
					cs = append(cs, encCase{EncFMULElem(d, n, m, lane), GNUFMULElem(d, n, m, lane)})
				}
			}
		}
	}
	return cs
}

// objdump returns GNU binutils' aarch64 disassembler, skipping the test
// when it is not installed (CI installs it and sets DYGEN_REQUIRE_OBJDUMP).
func objdump(t *testing.T) string {
	p, err := exec.LookPath("aarch64-linux-gnu-objdump")
	if err != nil {
		if os.Getenv("DYGEN_REQUIRE_OBJDUMP") == "1" {
			t.Fatal("DYGEN_REQUIRE_OBJDUMP=1, but aarch64-linux-gnu-objdump (binutils-aarch64-linux-gnu) is not installed")
		}
		t.Skip("aarch64-linux-gnu-objdump not installed (Debian: binutils-aarch64-linux-gnu)")
	}
	return p
}

var objLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$`)

// TestEncodingsObjdump disassembles every word with GNU objdump and
// compares it with the instruction the word stands for.
func TestEncodingsObjdump(t *testing.T) {
	tool := objdump(t)
	cs := allEncodings()
	var raw bytes.Buffer
	for _, c := range cs {
		require.NoError(t, binary.Write(&raw, binary.LittleEndian, c.word))
	}
	bin := filepath.Join(t.TempDir(), "words.bin")
	require.NoError(t, os.WriteFile(bin, raw.Bytes(), 0o644))
	out, err := exec.Command(tool, "-D", "-b", "binary", "-m", "aarch64", bin).Output()
	require.NoError(t, err)
	got := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := objLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var addr int
		for _, ch := range m[1] {
			addr = addr*16 + strings.IndexRune("0123456789abcdef", ch)
		}
		text := strings.Join(strings.Fields(m[3]), " ")
		text = strings.ReplaceAll(text, ", ", ",")
		text = strings.Replace(text, ",", ", ", -1)
		got[addr/4] = text
	}
	require.Len(t, got, len(cs), "objdump decoded a different number of words")
	bad := 0
	for i, c := range cs {
		if got[i] != c.gnu {
			bad++
			if bad <= 10 {
				t.Errorf("word 0x%08x: objdump says %q, want %q", c.word, got[i], c.gnu)
			}
		}
	}
	require.Zero(t, bad, "words that disassemble to another instruction")
	t.Logf("%d encodings checked against %s", len(cs), tool)
}
