// Package dyrt is the small runtime that dygen's generated packages import.
// It holds a strict reader and a deterministic writer for the safetensors
// format, in which DyConv weights (and the golden PyTorch test cases) are
// stored. It depends on the standard library only.
package dyrt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header Parse accepts, in bytes. The
// safetensors reference implementation uses the same 100 MB cap.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key that holds the string→string
// metadata instead of a tensor.
const metadataKey = "__metadata__"

// dtypeSizes maps every dtype the safetensors format defines to its element
// size in bytes. Parse accepts all of them; Float32 and Float64 convert only
// the floating-point ones listed in floatDTypes.
var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

const floatDTypes = "F32, F16, BF16 or F64"

// Tensor is one named tensor of a safetensors file.
type Tensor struct {
	Name  string
	DType string // safetensors dtype: F32, F16, BF16, F64, I32, …
	Shape []int  // dimensions, outermost first; empty for a scalar
	Data  []byte // raw little-endian elements, len = prod(Shape)·size(DType)
}

// NumElements is the product of the tensor's dimensions (1 for a scalar).
// It assumes the shape has been validated (as Parse and Encode do).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file. Its tensors' Data alias the byte slice
// the file was parsed from; callers must not modify them.
type File struct {
	Path     string            // the path given to Open or Parse, used in messages
	Metadata map[string]string // the header's __metadata__, never nil

	tensors map[string]*Tensor
	names   []string // sorted
}

// Open reads the whole file at path and parses it with Parse.
func Open(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // "path: no such file or directory", still errors.Is(err, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse parses a complete safetensors file held in b. path is only used in
// error messages, which all start with it. Parse validates the whole file:
// the header length against the file size (and MaxHeaderSize), the header as
// well-formed UTF-8 JSON without duplicate keys or unknown fields, every
// dtype, every shape (non-negative dimensions, no overflow), and every
// tensor's data_offsets (begin <= end, within the data section, and
// end-begin == prod(shape)·size(dtype)). Tensors may overlap or leave gaps,
// and bytes after the last tensor are ignored. Parse never panics.
func Parse(path string, b []byte) (*File, error) {
	f := &File{Path: path, Metadata: map[string]string{}, tensors: map[string]*Tensor{}}
	if len(b) < 8 {
		return nil, f.errorf("file is %d bytes, too short for the 8-byte header length", len(b))
	}
	hlen := binary.LittleEndian.Uint64(b[:8])
	if hlen > MaxHeaderSize {
		return nil, f.errorf("header length %d exceeds the %d-byte limit", hlen, MaxHeaderSize)
	}
	if hlen > uint64(len(b)-8) {
		return nil, f.errorf("header length %d exceeds the %d bytes after the length prefix (truncated file?)", hlen, len(b)-8)
	}
	header := b[8 : 8+int(hlen)]
	data := b[8+int(hlen):]
	if len(header) == 0 {
		return nil, f.errorf("empty header")
	}
	if !utf8.Valid(header) {
		return nil, f.errorf("header is not valid UTF-8")
	}
	keys, vals, err := decodeObject(header)
	if err != nil {
		return nil, f.errorf("header: %v", err)
	}
	for i, key := range keys {
		if key == metadataKey {
			if err := f.parseMetadata(vals[i]); err != nil {
				return nil, err
			}
			continue
		}
		t, err := parseEntry(key, vals[i], data)
		if err != nil {
			return nil, f.errorf("tensor %q: %v", key, err)
		}
		f.tensors[key] = t
		f.names = append(f.names, key)
	}
	sort.Strings(f.names)
	return f, nil
}

func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", f.displayPath(), fmt.Sprintf(format, args...))
}

func (f *File) displayPath() string {
	if f.Path == "" {
		return "safetensors"
	}
	return f.Path
}

func (f *File) parseMetadata(raw json.RawMessage) error {
	if string(raw) == "null" {
		return nil
	}
	keys, vals, err := decodeObject(raw)
	if err != nil {
		return f.errorf("%s: %v", metadataKey, err)
	}
	for i, k := range keys {
		s, err := decodeString(vals[i])
		if err != nil {
			return f.errorf("%s[%q]: %v", metadataKey, k, err)
		}
		f.Metadata[k] = s
	}
	return nil
}

// parseEntry validates one tensor entry of the header against the data
// section.
func parseEntry(name string, raw json.RawMessage, data []byte) (*Tensor, error) {
	keys, vals, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	var (
		dtype            string
		shape            []int
		begin, end       uint64
		hasD, hasS, hasO bool
	)
	for i, k := range keys {
		switch k {
		case "dtype":
			if dtype, err = decodeString(vals[i]); err != nil {
				return nil, fmt.Errorf("dtype: %v", err)
			}
			hasD = true
		case "shape":
			if shape, err = decodeShape(vals[i]); err != nil {
				return nil, err
			}
			hasS = true
		case "data_offsets":
			offs, err := decodeUints(vals[i])
			if err != nil {
				return nil, fmt.Errorf("data_offsets: %v", err)
			}
			if len(offs) != 2 {
				return nil, fmt.Errorf("data_offsets has %d elements, want 2", len(offs))
			}
			begin, end = offs[0], offs[1]
			hasO = true
		default:
			return nil, fmt.Errorf("unknown field %q (want dtype, shape, data_offsets)", k)
		}
	}
	switch {
	case !hasD:
		return nil, errors.New("missing dtype")
	case !hasS:
		return nil, errors.New("missing shape")
	case !hasO:
		return nil, errors.New("missing data_offsets")
	}
	size, ok := dtypeSizes[dtype]
	if !ok {
		return nil, fmt.Errorf("unknown dtype %q", dtype)
	}
	nbytes, ok := byteSize(shape, size)
	if !ok {
		return nil, fmt.Errorf("shape %v is too large", shape)
	}
	if begin > end {
		return nil, fmt.Errorf("data_offsets [%d %d]: begin after end", begin, end)
	}
	if end > uint64(len(data)) {
		return nil, fmt.Errorf("data_offsets [%d %d]: end beyond the %d-byte data section (truncated file?)", begin, end, len(data))
	}
	if end-begin != uint64(nbytes) {
		return nil, fmt.Errorf("data_offsets [%d %d] hold %d bytes, want %d for %s%v", begin, end, end-begin, nbytes, dtype, shape)
	}
	return &Tensor{Name: name, DType: dtype, Shape: shape, Data: data[begin:end:end]}, nil
}

// byteSize is prod(shape)·size, or false when it does not fit in an int.
func byteSize(shape []int, size int) (int, bool) {
	n := size
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// decodeObject decodes a JSON object into its keys (in order) and raw
// values, rejecting duplicate keys and anything after the closing brace
// other than whitespace.
func decodeObject(b []byte) (keys []string, vals []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("want a JSON object, got %s", describeToken(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("malformed JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("malformed JSON: want a key, got %s", describeToken(tok))
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("malformed JSON at key %q: %v", key, err)
		}
		keys = append(keys, key)
		vals = append(vals, raw)
	}
	if tok, err = dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '}' {
		return nil, nil, fmt.Errorf("malformed JSON: want '}', got %s", describeToken(tok))
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, fmt.Errorf("malformed JSON after the object: %v", err)
		}
		return nil, nil, fmt.Errorf("trailing data after the JSON object: %s", describeToken(tok))
	}
	return keys, vals, nil
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return fmt.Sprintf("string %q", t)
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v", t)
	}
}

func decodeString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("want a string, got %s", abbreviate(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// decodeNumbers decodes a JSON array of numbers, keeping their text.
func decodeNumbers(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("want an array, got %s", abbreviate(raw))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		e = bytes.TrimSpace(e)
		if len(e) == 0 || !(e[0] == '-' || (e[0] >= '0' && e[0] <= '9')) {
			return nil, fmt.Errorf("element %d: want an integer, got %s", i, abbreviate(e))
		}
		out[i] = string(e)
	}
	return out, nil
}

func decodeShape(raw json.RawMessage) ([]int, error) {
	nums, err := decodeNumbers(raw)
	if err != nil {
		return nil, fmt.Errorf("shape: %v", err)
	}
	shape := make([]int, len(nums))
	for i, s := range nums {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("shape: dimension %d is %s, want a non-negative integer", i, s)
		}
		if v > math.MaxInt {
			return nil, fmt.Errorf("shape: dimension %d is %s, too large for this platform's int", i, s)
		}
		shape[i] = int(v)
	}
	return shape, nil
}

func decodeUints(raw json.RawMessage) ([]uint64, error) {
	nums, err := decodeNumbers(raw)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(nums))
	for i, s := range nums {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("element %d is %s, want a non-negative integer", i, s)
		}
		out[i] = v
	}
	return out, nil
}

func abbreviate(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}

// Names returns the names of the file's tensors, sorted.
func (f *File) Names() []string {
	return append([]string(nil), f.names...)
}

// Has reports whether the file holds a tensor with the given name.
func (f *File) Has(name string) bool {
	_, ok := f.tensors[name]
	return ok
}

// Tensor returns the named tensor. Its Data aliases the file's bytes.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// lookup returns the named tensor after checking that its shape is exactly
// shape, or an error naming the file, the tensor, and what was expected.
func (f *File) lookup(name string, shape []int) (*Tensor, error) {
	t, ok := f.tensors[name]
	if !ok {
		have := f.names
		more := ""
		if len(have) > 12 {
			have, more = have[:12], ", …"
		}
		return nil, f.errorf("no tensor %q (have %s%s)", name, quoteList(have), more)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, f.errorf("tensor %q: shape %v, want %v", name, t.Shape, shape)
	}
	return t, nil
}

func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Float32 returns the named tensor's elements as float32 after checking that
// its shape equals shape exactly (no arguments means a scalar). F32 is copied,
// F16 and BF16 are widened exactly, F64 is rounded to nearest; a finite F64
// value outside float32's range is an error. Other dtypes are errors.
func (f *File) Float32(name string, shape ...int) ([]float32, error) {
	t, err := f.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	n := len(t.Data)
	out := make([]float32, 0, n/max(dtypeSizes[t.DType], 1))
	switch t.DType {
	case "F32":
		for i := 0; i+4 <= n; i += 4 {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(t.Data[i:])))
		}
	case "F16":
		for i := 0; i+2 <= n; i += 2 {
			out = append(out, f16ToF32(binary.LittleEndian.Uint16(t.Data[i:])))
		}
	case "BF16":
		for i := 0; i+2 <= n; i += 2 {
			out = append(out, bf16ToF32(binary.LittleEndian.Uint16(t.Data[i:])))
		}
	case "F64":
		for i := 0; i+8 <= n; i += 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(t.Data[i:]))
			x := float32(v)
			if math.IsInf(float64(x), 0) && !math.IsInf(v, 0) {
				return nil, f.errorf("tensor %q: element %d (%g) overflows float32", name, i/8, v)
			}
			out = append(out, x)
		}
	default:
		return nil, f.errorf("tensor %q: dtype %s not supported (want %s)", name, t.DType, floatDTypes)
	}
	return out, nil
}

// Float64 is like Float32 but widens every supported dtype (F32, F16, BF16,
// F64) to float64 exactly. Use it for float64 reference data.
func (f *File) Float64(name string, shape ...int) ([]float64, error) {
	t, err := f.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	n := len(t.Data)
	out := make([]float64, 0, n/max(dtypeSizes[t.DType], 1))
	switch t.DType {
	case "F32":
		for i := 0; i+4 <= n; i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[i:]))))
		}
	case "F16":
		for i := 0; i+2 <= n; i += 2 {
			out = append(out, float64(f16ToF32(binary.LittleEndian.Uint16(t.Data[i:]))))
		}
	case "BF16":
		for i := 0; i+2 <= n; i += 2 {
			out = append(out, float64(bf16ToF32(binary.LittleEndian.Uint16(t.Data[i:]))))
		}
	case "F64":
		for i := 0; i+8 <= n; i += 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(t.Data[i:])))
		}
	default:
		return nil, f.errorf("tensor %q: dtype %s not supported (want %s)", name, t.DType, floatDTypes)
	}
	return out, nil
}

// f16ToF32 widens an IEEE 754 binary16 value exactly, keeping the sign of
// zero, infinities and NaN payloads.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant·2^-24, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// bf16ToF32 widens a bfloat16 value exactly: it is the top half of a float32.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32Tensor makes an F32 tensor holding data, little-endian. The shape is
// copied; Encode reports a data length that does not match it.
func F32Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: "F32", Shape: append([]int{}, shape...), Data: b}
}

// F64Tensor makes an F64 tensor holding data, little-endian.
func F64Tensor(name string, shape []int, data []float64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{Name: name, DType: "F64", Shape: append([]int{}, shape...), Data: b}
}

// Encode serializes tensors and metadata (nil or empty for none) as a
// safetensors file. The output is deterministic: header keys are sorted, the
// tensors' data follow in name order without gaps, and the header is padded
// with spaces so that the data section starts at a multiple of 8 bytes.
// Encode rejects empty or duplicate names, the reserved name __metadata__,
// names and metadata that are not valid UTF-8, unknown dtypes, negative dimensions, and data whose length does not match
// the shape.
func Encode(meta map[string]string, tensors []Tensor) ([]byte, error) {
	ts := make([]*Tensor, len(tensors))
	seen := map[string]bool{}
	for i := range tensors {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("safetensors: tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, fmt.Errorf("safetensors: tensor name %q is reserved", t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("safetensors: duplicate tensor %q", t.Name)
		}
		if !utf8.ValidString(t.Name) {
			return nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", t.Name)
		}
		seen[t.Name] = true
		size, ok := dtypeSizes[t.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		nbytes, ok := byteSize(t.Shape, size)
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: invalid shape %v", t.Name, t.Shape)
		}
		if len(t.Data) != nbytes {
			return nil, fmt.Errorf("safetensors: tensor %q: %d bytes of data, want %d for %s%v", t.Name, len(t.Data), nbytes, t.DType, t.Shape)
		}
		ts[i] = t
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })

	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			h.WriteByte(',')
		}
		first = false
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("safetensors: metadata %q: not valid UTF-8", k)
		}
	}
	if len(meta) > 0 {
		sep()
		writeJSONString(&h, metadataKey)
		h.WriteString(":{")
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, meta[k])
		}
		h.WriteByte('}')
	}
	off := 0
	for _, t := range ts {
		sep()
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeJSONString(&h, t.DType)
		h.WriteString(`,"shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+len(t.Data))
		off += len(t.Data)
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit", h.Len(), MaxHeaderSize)
	}
	out := make([]byte, 8, 8+h.Len()+off)
	binary.LittleEndian.PutUint64(out, uint64(h.Len()))
	out = append(out, h.Bytes()...)
	for _, t := range ts {
		out = append(out, t.Data...)
	}
	return out, nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // cannot fail for a string
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// Write encodes meta and tensors with Encode and writes them to path,
// atomically: it writes a temporary file in the same directory and renames
// it over path.
func Write(path string, meta map[string]string, tensors []Tensor) error {
	b, err := Encode(meta, tensors)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(name, 0o644)); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}
