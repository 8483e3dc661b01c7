package dyrt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// rawFile assembles a safetensors file from a literal header and data, for
// the malformed-input tests.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func u16s(vs ...uint16) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func sampleTensors() []Tensor {
	return []Tensor{
		F32Tensor("weight", []int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), -0.25}),
		F64Tensor("b64", []int{2}, []float64{1e-300, -7}),
		{Name: "half", DType: "F16", Shape: []int{3}, Data: u16s(0x3c00, 0x0001, 0xfc00)},
		{Name: "brain", DType: "BF16", Shape: []int{}, Data: u16s(0x3f80)},
		{Name: "ints", DType: "I32", Shape: []int{1, 1}, Data: []byte{1, 0, 0, 0}},
		{Name: "empty", DType: "F32", Shape: []int{0, 5}, Data: nil},
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	meta := map[string]string{"spec": `{"a": [1, 2]}`, "source": "test <&>", "z": ""}
	ts := sampleTensors()
	b, err := Encode(meta, ts)
	if err != nil {
		t.Fatal(err)
	}
	hlen := binary.LittleEndian.Uint64(b)
	if (8+hlen)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-byte aligned", 8+hlen)
	}
	header := string(b[8 : 8+hlen])
	if !strings.HasPrefix(header, `{"__metadata__":{"source":"test <&>","spec":"{\"a\": [1, 2]}","z":""},"b64":`) {
		t.Errorf("header not sorted/compact as expected: %s", header)
	}
	if strings.TrimRight(header, " ") != strings.TrimSpace(header) || !strings.HasSuffix(strings.TrimRight(header, " "), "}") {
		t.Errorf("header padding is not trailing spaces: %q", header)
	}

	// Deterministic: the input order does not matter.
	rev := append([]Tensor(nil), ts...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b2, err := Encode(meta, rev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("Encode depends on the order of its tensors")
	}

	f, err := Parse("rt.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	want := []string{"b64", "brain", "empty", "half", "ints", "weight"}
	if got := f.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, in := range ts {
		got, ok := f.Tensor(in.Name)
		if !ok || !f.Has(in.Name) {
			t.Fatalf("tensor %q missing", in.Name)
		}
		if got.DType != in.DType || !slices.Equal(got.Shape, in.Shape) || !bytes.Equal(got.Data, in.Data) {
			t.Errorf("tensor %q round-tripped as %s%v %x, want %s%v %x", in.Name, got.DType, got.Shape, got.Data, in.DType, in.Shape, in.Data)
		}
	}
	if f.Has("nope") {
		t.Error(`Has("nope") = true`)
	}
	w, err := f.Float32("weight", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, -2, 3.5, 0, float32(math.Inf(1)), -0.25}; !reflect.DeepEqual(w, want) {
		t.Errorf("weight = %v, want %v", w, want)
	}
	h, err := f.Float32("half", 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 0x1p-24, float32(math.Inf(-1))}; !reflect.DeepEqual(h, want) {
		t.Errorf("half = %v, want %v", h, want)
	}
	s, err := f.Float32("brain") // scalar: no dimensions
	if err != nil || len(s) != 1 || s[0] != 1 {
		t.Errorf("brain = %v, %v; want [1]", s, err)
	}
	e, err := f.Float32("empty", 0, 5)
	if err != nil || len(e) != 0 {
		t.Errorf("empty = %v, %v", e, err)
	}
	d, err := f.Float64("b64", 2)
	if err != nil || d[0] != 1e-300 || d[1] != -7 {
		t.Errorf("Float64(b64) = %v, %v", d, err)
	}
	d32, err := f.Float32("b64", 2)
	if err != nil || d32[0] != 0 || d32[1] != -7 {
		t.Errorf("Float32(b64) = %v, %v (1e-300 should round to 0)", d32, err)
	}
}

func TestEncodeNoMetadata(t *testing.T) {
	b, err := Encode(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := rawFile("{}      ", nil); !bytes.Equal(b, want) {
		t.Errorf("Encode(nil, nil) = %q, want %q", b, want)
	}
	f, err := Parse("e", b)
	if err != nil || len(f.Names()) != 0 || f.Metadata == nil || len(f.Metadata) != 0 {
		t.Errorf("Parse(empty) = %+v, %v", f, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"empty name", []Tensor{F32Tensor("", nil, []float32{1})}, "empty name"},
		{"reserved", []Tensor{F32Tensor("__metadata__", nil, []float32{1})}, "reserved"},
		{"duplicate", []Tensor{F32Tensor("a", nil, []float32{1}), F32Tensor("a", nil, []float32{1})}, `duplicate tensor "a"`},
		{"dtype", []Tensor{{Name: "a", DType: "F128", Data: nil}}, `unknown dtype "F128"`},
		{"negative", []Tensor{F32Tensor("a", []int{-1}, nil)}, "invalid shape"},
		{"size", []Tensor{F32Tensor("a", []int{2, 2}, []float32{1, 2, 3})}, "12 bytes of data, want 16"},
		{"utf8", []Tensor{F32Tensor("a\xff", nil, []float32{1})}, "not valid UTF-8"},
	} {
		if _, err := Encode(nil, c.ts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Encode error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := Encode(map[string]string{"k": "\xfe"}, nil); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("metadata with invalid UTF-8: %v", err)
	}
}

func TestWriteOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	ts := []Tensor{F32Tensor("weight", []int{4, 64, 3, 7, 7}, make([]float32, 4*64*3*7*7))}
	if err := Write(path, map[string]string{"k": "v"}, ts); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || f.Metadata["k"] != "v" {
		t.Errorf("Open: path %q, metadata %v", f.Path, f.Metadata)
	}
	_, err = f.Float32("weight", 3, 64, 3, 7, 7)
	want := path + `: tensor "weight": shape [4 64 3 7 7], want [3 64 3 7 7]`
	if err == nil || err.Error() != want {
		t.Errorf("shape mismatch error %q, want %q", err, want)
	}
	_, err = f.Float32("bias", 64)
	if err == nil || !strings.HasPrefix(err.Error(), path+`: no tensor "bias" (have "weight")`) {
		t.Errorf("missing tensor error %q", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("Write left %d files in the directory, want 1", len(entries))
	}
	absent := filepath.Join(dir, "absent.safetensors")
	if _, err := Open(absent); err == nil || !strings.HasPrefix(err.Error(), absent+": ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(absent) error %v", err)
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir.safetensors"), nil, ts); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
	if err := Write(filepath.Join(dir, "bad.safetensors"), nil, []Tensor{F32Tensor("a", []int{2}, nil)}); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "bad.safetensors")+": ") {
		t.Errorf("Write error %v does not start with the path", err)
	}
}

func TestUnsupportedDType(t *testing.T) {
	b, _ := Encode(nil, []Tensor{{Name: "i", DType: "I32", Shape: []int{1}, Data: make([]byte, 4)}})
	f, err := Parse("x.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	want := `x.safetensors: tensor "i": dtype I32 not supported (want F32, F16, BF16 or F64)`
	if _, err := f.Float32("i", 1); err == nil || err.Error() != want {
		t.Errorf("Float32 error %q, want %q", err, want)
	}
	if _, err := f.Float64("i", 1); err == nil || err.Error() != want {
		t.Errorf("Float64 error %q, want %q", err, want)
	}
}

func TestF64Overflow(t *testing.T) {
	b, _ := Encode(nil, []Tensor{F64Tensor("d", []int{3}, []float64{math.Inf(1), math.NaN(), 1e39})})
	f, err := Parse("o.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("d", 3); err == nil || !strings.Contains(err.Error(), "element 2 (1e+39) overflows float32") {
		t.Errorf("error %v, want an overflow of element 2", err)
	}
}

// f16Value computes a binary16 value from the IEEE 754 definition.
func f16Value(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return s * m * math.Pow(2, -24)
	case 31:
		if m == 0 {
			return math.Inf(int(s))
		}
		return math.NaN()
	}
	return s * (1 + m/1024) * math.Pow(2, float64(e-15))
}

func TestF16AllValues(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := f16ToF32(h)
		want := f16Value(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("f16 %#04x = %v, want NaN", h, got)
			}
			// The payload and sign survive.
			if bits := math.Float32bits(got); bits>>31 != uint32(h>>15) || (bits>>13)&0x3ff != uint32(h&0x3ff) {
				t.Fatalf("f16 NaN %#04x widened to %#08x, payload or sign lost", h, bits)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("f16 %#04x = %v, want %v", h, got, want)
		}
	}
}

func TestHalfConversions(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		dtype string
		bits  uint16
		want  float32
	}{
		{"F16", 0x0001, 0x1p-24},   // smallest subnormal
		{"F16", 0x03ff, 0x3ffp-24}, // largest subnormal
		{"F16", 0x8001, -0x1p-24},
		{"F16", 0x0400, 0x1p-14}, // smallest normal
		{"F16", 0x7bff, 65504},
		{"F16", 0x3c00, 1},
		{"F16", 0xc000, -2},
		{"F16", 0x3555, 0x1.554p-2},
		{"F16", 0x7c00, float32(math.Inf(1))},
		{"F16", 0xfc00, float32(math.Inf(-1))},
		{"F16", 0x7e00, nan},
		{"F16", 0xfc01, nan},
		{"F16", 0x8000, float32(math.Copysign(0, -1))},
		{"BF16", 0x0001, 0x1p-133}, // smallest subnormal
		{"BF16", 0x007f, 0x7fp-133},
		{"BF16", 0x0080, 0x1p-126},
		{"BF16", 0x3f80, 1},
		{"BF16", 0xc0a0, -5},
		{"BF16", 0x7f7f, 0x1.fep127},
		{"BF16", 0x7f80, float32(math.Inf(1))},
		{"BF16", 0xff80, float32(math.Inf(-1))},
		{"BF16", 0x7fc0, nan},
		{"BF16", 0x8000, float32(math.Copysign(0, -1))},
	} {
		b, err := Encode(nil, []Tensor{{Name: "t", DType: c.dtype, Shape: []int{1}, Data: u16s(c.bits)}})
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse("h", b)
		if err != nil {
			t.Fatal(err)
		}
		v32, err := f.Float32("t", 1)
		if err != nil {
			t.Fatal(err)
		}
		v64, err := f.Float64("t", 1)
		if err != nil {
			t.Fatal(err)
		}
		got := v32[0]
		if math.IsNaN(float64(c.want)) {
			if !math.IsNaN(float64(got)) || !math.IsNaN(v64[0]) {
				t.Errorf("%s %#04x = %v, %v; want NaN", c.dtype, c.bits, got, v64[0])
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(c.want) || v64[0] != float64(c.want) || math.Signbit(v64[0]) != math.Signbit(float64(c.want)) {
			t.Errorf("%s %#04x = %v, %v; want %v", c.dtype, c.bits, got, v64[0], c.want)
		}
	}
}

// TestParseErrors checks that malformed files are rejected with a message
// that starts with the path and says what is wrong.
func TestParseErrors(t *testing.T) {
	const path = "bad.safetensors"
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"huge header", huge, "exceeds the 104857600-byte limit"},
		{"truncated header", rawFile(`{"a":1}`, nil)[:10], "exceeds the 2 bytes"},
		{"empty header", rawFile("", nil), "empty header"},
		{"not utf8", rawFile("{\"\xff\":1}", nil), "UTF-8"},
		{"not json", rawFile("{nope", nil), "malformed JSON"},
		{"array", rawFile("[]", nil), "want a JSON object"},
		{"trailing", rawFile("{}{}", nil), "trailing data"},
		{"trailing garbage", rawFile("{} x", nil), "malformed JSON"},
		{"unterminated", rawFile(`{"a":{"dtype":"F32"}`, nil), "malformed JSON"},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, f32(1)), `duplicate key "a"`},
		{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F64","shape":[],"data_offsets":[0,4]}}`, f32(1)), `duplicate key "dtype"`},
		{"entry not object", rawFile(`{"a":[1]}`, nil), `tensor "a": want a JSON object`},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}}`, f32(1)), `unknown field "x"`},
		{"missing dtype", rawFile(`{"a":{"shape":[],"data_offsets":[0,4]}}`, f32(1)), "missing dtype"},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), "missing shape"},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[]}}`, f32(1)), "missing data_offsets"},
		{"dtype number", rawFile(`{"a":{"dtype":3,"shape":[],"data_offsets":[0,4]}}`, f32(1)), "dtype: want a string"},
		{"dtype unknown", rawFile(`{"a":{"dtype":"F128","shape":[],"data_offsets":[0,4]}}`, f32(1)), `unknown dtype "F128"`},
		{"shape null", rawFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, f32(1)), "shape: want an array"},
		{"shape negative", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)), "dimension 0 is -1"},
		{"shape float", rawFile(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, f32(1)), "dimension 0 is 1.0"},
		{"shape exp", rawFile(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, f32(1)), "dimension 0 is 1e0"},
		{"shape string", rawFile(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, f32(1)), "want an integer"},
		{"shape null elem", rawFile(`{"a":{"dtype":"F32","shape":[null],"data_offsets":[0,4]}}`, f32(1)), "want an integer"},
		{"shape big", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, f32(1)), "dimension 0"},
		{"shape overflow", rawFile(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, f32(1)), "too large"},
		{"offsets count", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0]}}`, f32(1)), "data_offsets has 1 elements, want 2"},
		{"offsets negative", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[-4,0]}}`, f32(1)), "data_offsets: element 0 is -4"},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[4,0]}}`, f32(1)), "begin after end"},
		{"offsets beyond", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)), "end beyond the 4-byte data section"},
		{"offsets huge", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}`, f32(1)), "end beyond"},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, f32(1)), "hold 4 bytes, want 8 for F32[2]"},
		{"metadata not object", rawFile(`{"__metadata__":"x"}`, nil), "__metadata__: want a JSON object"},
		{"metadata value", rawFile(`{"__metadata__":{"k":1}}`, nil), `__metadata__["k"]: want a string`},
		{"metadata null value", rawFile(`{"__metadata__":{"k":null}}`, nil), `__metadata__["k"]: want a string`},
	} {
		_, err := Parse(path, c.file)
		if err == nil {
			t.Errorf("%s: Parse succeeded", c.name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q, want %q prefixed by the path", c.name, msg, c.want)
		}
	}
}

func TestParseLenient(t *testing.T) {
	// Accepted: whitespace in the header, null metadata, overlapping and
	// out-of-order tensors, trailing bytes after the data.
	data := []byte{0, 0, 128, 63, 0, 0, 0, 64, 9, 9}
	f, err := Parse("ok", rawFile(` { "__metadata__" : null , "b" : {"data_offsets":[4,8],"shape":[1],"dtype":"F32"}, "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]} }   `, data))
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Float32("a", 2)
	if err != nil || a[0] != 1 || a[1] != 2 {
		t.Errorf("a = %v, %v", a, err)
	}
	if got := f.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names() = %v", got)
	}
	if f2, err := Parse("", rawFile("{", nil)); err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") {
		t.Errorf("Parse with an empty path: %v, %v", f2, err)
	}
}

// TestGoldenFile parses one of the shared PyTorch golden files when present.
func TestGoldenFile(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "golden", "case000.safetensors")
	if _, err := os.Stat(path); err != nil {
		t.Skip("golden files not present")
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Metadata["spec"], "in_channels") {
		t.Errorf("metadata spec = %q", f.Metadata["spec"])
	}
	if _, err := f.Float32("weight", 6, 64, 3, 7, 7); err != nil {
		t.Error(err)
	}
	if _, err := f.Float64("output_f64", 2, 64, 16, 16); err != nil {
		t.Error(err)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts is
// self-consistent and survives an Encode/Parse round trip.
func FuzzParse(f *testing.F) {
	if b, err := Encode(map[string]string{"spec": "{}"}, sampleTensors()); err == nil {
		f.Add(b)
	}
	f.Add(rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{1, 2, 3, 4}))
	f.Add(rawFile(`{"__metadata__":{"a":"b"},"x":{"dtype":"BF16","shape":[1,1],"data_offsets":[2,4]}}`, []byte{1, 2, 3, 4, 5}))
	f.Add(rawFile(`{"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x7f}))
	f.Add(rawFile("{}", nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.safetensors", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.safetensors: ") {
				t.Fatalf("error without the path: %v", err)
			}
			return
		}
		var ts []Tensor
		for _, name := range file.Names() {
			tn, ok := file.Tensor(name)
			if !ok || tn.Name != name {
				t.Fatalf("Names lists %q but Tensor does not return it", name)
			}
			size := dtypeSizes[tn.DType]
			if nb, ok := byteSize(tn.Shape, size); !ok || nb != len(tn.Data) {
				t.Fatalf("tensor %q: %d bytes for %s%v", name, len(tn.Data), tn.DType, tn.Shape)
			}
			v32, err32 := file.Float32(name, tn.Shape...)
			v64, err64 := file.Float64(name, tn.Shape...)
			if (err32 == nil) != (err64 == nil) && !strings.Contains(err32.Error(), "overflows float32") {
				t.Fatalf("tensor %q: Float32 error %v, Float64 error %v", name, err32, err64)
			}
			if err64 == nil && len(v64) != tn.NumElements() || err32 == nil && len(v32) != tn.NumElements() {
				t.Fatalf("tensor %q: converted %d/%d elements, want %d", name, len(v32), len(v64), tn.NumElements())
			}
			ts = append(ts, *tn)
		}
		enc, err := Encode(file.Metadata, ts)
		if err != nil {
			if strings.Contains(err.Error(), "empty name") {
				return // the format allows an empty name; Encode refuses it
			}
			t.Fatalf("Encode of a parsed file: %v", err)
		}
		back, err := Parse("re", enc)
		if err != nil {
			t.Fatalf("Parse of re-encoded file: %v", err)
		}
		if !reflect.DeepEqual(back.Names(), file.Names()) || !reflect.DeepEqual(back.Metadata, file.Metadata) {
			t.Fatalf("round trip changed names or metadata")
		}
		for _, tn := range ts {
			got, _ := back.Tensor(tn.Name)
			if got.DType != tn.DType || !slices.Equal(got.Shape, tn.Shape) || !bytes.Equal(got.Data, tn.Data) {
				t.Fatalf("round trip changed tensor %q", tn.Name)
			}
		}
	})
}
