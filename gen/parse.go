package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dygen/dygen/verify"
	"go.yaml.in/yaml/v3"
)

// LoadSpec reads and parses a spec file.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(path, data)
}

// Limits on a spec's values, so that no spec makes the generator (or the
// code it writes) allocate absurdly.
const (
	specMaxChannels = 65536   // in_channels, out_channels, groups
	specMaxKernel   = 64      // each kernel dimension
	specMaxStep     = 4096    // each stride, dilation and padding (per side)
	specMaxExperts  = 1024    // num_experts
	specMaxInput    = 16384   // each input_size dimension
	specMaxWeights  = 1 << 30 // elements of the expert weights or the FC weights of one layer
	specMaxErrors   = 100     // errors reported before "too many errors"
)

// SpecError is one problem found in a spec. ParseSpec returns them joined
// with errors.Join, one per line, in file order; errors.As finds the first.
type SpecError struct {
	Path      string
	Line, Col int    // 1-based; Col is 0 when the YAML library gives no column
	Layer     string // `layer "Conv1"`, `layer #2`, or "" for the top level
	Field     string // the field name, or "" when the error is not about one field
	Msg       string // what was expected and what was found
}

// Error formats the error as `file:line:col: layer "X": field "f": msg`.
func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Layer != "" {
		b.WriteString(e.Layer)
		b.WriteString(": ")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParseSpec parses a spec (YAML, or JSON) read from path.
//
// The spec is a mapping with "package" (a lower-case Go package name) and
// "layers" (a non-empty list of layer mappings: name, in_channels,
// out_channels, kernel_size, stride, padding, dilation, groups, bias,
// padding_mode, num_experts, input_size, with PyTorch Conv2d's meanings and
// defaults, and num_experts defaulting to 3). A YAML syntax error stops the
// parse; otherwise every problem found is reported, joined one per line.
func ParseSpec(path string, data []byte) (*Spec, error) {
	shown := path
	if shown == "" {
		shown = "<spec>" // in messages only
	}
	p := &specParser{path: shown}
	root, err := p.decode(data)
	if err != nil {
		return nil, err
	}
	spec := p.spec(root)
	if len(p.errs) > 0 {
		return nil, p.joined()
	}
	spec.Path = path
	return spec, nil
}

type specParser struct {
	path string
	errs []*SpecError
}

// decode parses the YAML into a node tree and returns the document's
// content node (nil for an empty document), or the syntax error.
func (p *specParser) decode(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The YAML library turns its own failures into errors; anything
		// else it panics with is still a spec it cannot read.
		if r := recover(); r != nil {
			root, err = nil, p.syntaxError(data, fmt.Errorf("yaml: %v", r))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, p.syntaxError(data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, p.syntaxError(data, err)
	default:
		return nil, &SpecError{Path: p.path, Line: next.Line, Col: next.Column,
			Msg: "expected a single YAML document, got a second one"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var specYAMLLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError gives a YAML library error the file and line: the library's
// line when it has one, else the position of the first byte it cannot read
// (invalid UTF-8, a control character), else line 1 (the library omits the
// line number for errors on the first line).
func (p *specParser) syntaxError(data []byte, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	e := &SpecError{Path: p.path, Line: 1}
	if m := specYAMLLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		// The library prints the parser's (not the scanner's) marks
		// 0-based: the line of the construct being parsed, less one.
		if specParserProblem(msg) {
			e.Line++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if m := specUnknownAnchor.FindStringSubmatch(msg); m != nil {
			if line, col, ok := specFindAlias(data, m[1]); ok {
				e.Line, e.Col = line, col
			}
		} else if line, col, ok := specBadByte(data); ok {
			e.Line, e.Col = line, col
		}
	}
	e.Msg = "invalid YAML: " + msg
	return e
}

var specUnknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// specParserProblem reports whether msg is one of the YAML parser's (as
// opposed to its scanner's) problems.
func specParserProblem(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found incompatible YAML document" || msg == "found undefined tag handle"
}

// specFindAlias finds the first "*name" not followed by another name
// character, for an unknown-anchor error.
func specFindAlias(data []byte, name string) (line, col int, ok bool) {
	pat := []byte("*" + name)
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], pat)
		if i < 0 {
			break
		}
		i += off
		end := i + len(pat)
		if end == len(data) || bytes.IndexByte([]byte(" \t\r\n,]}"), data[end]) >= 0 {
			before := data[:i]
			line = bytes.Count(before, []byte("\n")) + 1
			col = utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
			return line, col, true
		}
		off = i + 1
	}
	return 0, 0, false
}

// specBadByte finds the first character the YAML reader rejects: invalid
// UTF-8 or a control character. It does not look into UTF-16 input.
func specBadByte(data []byte) (line, col int, ok bool) {
	if len(data) >= 2 && (data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE) {
		return 0, 0, false
	}
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, col, true
		case r == '\n':
			line, col = line+1, 0
		case r == '\t' || r == '\r' || r == 0x85 || r == 0xFEFF:
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF:
			return line, col, true
		}
		i += size
		col++
	}
	return 0, 0, false
}

func (p *specParser) add(n *yaml.Node, layer, field, format string, args ...any) {
	e := &SpecError{Path: p.path, Layer: layer, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// joined returns the errors in file order, without repeats, at most
// specMaxErrors of them.
func (p *specParser) joined() error {
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i], p.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	var errs []error
	seen := map[string]bool{}
	for _, e := range p.errs {
		s := e.Error()
		if seen[s] {
			continue
		}
		seen[s] = true
		errs = append(errs, e)
	}
	if len(errs) > specMaxErrors {
		more := len(errs) - specMaxErrors
		errs = append(errs[:specMaxErrors], &SpecError{Path: p.path,
			Msg: fmt.Sprintf("too many errors (%d more not shown)", more)})
	}
	return errors.Join(errs...)
}

// specDeref follows aliases to the anchored node.
func specDeref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// specDescribe says what a node is, for "got ..." in error messages.
func specDescribe(n *yaml.Node) string {
	n = specDeref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return specDescribeScalar(n)
	case yaml.SequenceNode:
		switch len(n.Content) {
		case 0:
			return "an empty list"
		case 1:
			if s := specDeref(n.Content[0]); s.Kind == yaml.ScalarNode {
				return "[" + specDescribeScalar(s) + "] (1 element)"
			}
			return "a list of 1 element"
		}
		if len(n.Content) <= 4 {
			parts := make([]string, 0, len(n.Content))
			for _, c := range n.Content {
				c = specDeref(c)
				if c.Kind != yaml.ScalarNode {
					parts = nil
					break
				}
				parts = append(parts, specDescribeScalar(c))
			}
			if parts != nil {
				return fmt.Sprintf("[%s] (%d elements)", strings.Join(parts, ", "), len(n.Content))
			}
		}
		return fmt.Sprintf("a list of %d elements", len(n.Content))
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "an empty mapping"
		}
		return "a mapping"
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

func specDescribeScalar(n *yaml.Node) string {
	v := n.Value
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:40]) + "..."
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return strconv.Quote(v)
	case "!!null":
		return "null"
	case "!!int", "!!float", "!!bool":
		return specPrintable(v)
	default:
		return specPrintable(tag) + " " + strconv.Quote(v)
	}
}

// specPrintable returns s, or s quoted when it has a quote or a character
// that is not printable, so that an error stays on one line.
func specPrintable(s string) string {
	for _, r := range s {
		if r == '"' || r == '\\' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// specInt reads an int scalar. It refuses floats, strings, bools and ints
// with a leading zero (YAML reads 010 as octal 8).
func specInt(n *yaml.Node) (int, bool) {
	n = specDeref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, false
	}
	digits := strings.TrimLeft(n.Value, "+-")
	if len(digits) > 1 && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9' {
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return 0, false
	}
	if int64(int(v)) != v {
		return 0, false
	}
	return int(v), true
}

// specFloat reads a finite number (an int or a float scalar).
func specFloat(n *yaml.Node) (float64, bool) {
	n = specDeref(n)
	if n == nil || n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func specString(n *yaml.Node) (string, bool) {
	n = specDeref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

func specBool(n *yaml.Node) (bool, bool) {
	n = specDeref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, false
	}
	return b, true
}

func specIsNull(n *yaml.Node) bool {
	n = specDeref(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// specField is one key/value pair of a mapping.
type specField struct {
	key, val *yaml.Node
}

// fields reads a mapping's pairs by key, reporting keys that are not
// scalars, duplicate keys and unknown keys (with a suggestion).
func (p *specParser) fields(m *yaml.Node, layer string, known []string) map[string]specField {
	out := map[string]specField{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		kd := specDeref(k)
		if kd == nil || kd.Kind != yaml.ScalarNode {
			p.add(k, layer, "", "expected a field name, got %s as a key", specDescribe(k))
			continue
		}
		name := kd.Value
		if first, dup := out[name]; dup {
			p.add(k, layer, name, "expected each field once, got it again (first at line %d)", first.key.Line)
			continue
		}
		out[name] = specField{k, v}
		if !specContains(known, name) {
			if name == "<<" {
				p.add(k, layer, name, "YAML merge keys are not supported; write the fields out")
			} else if s := specSuggest(name, known); s != "" {
				p.add(k, layer, name, "unknown field, did you mean %q?", s)
			} else {
				p.add(k, layer, name, "unknown field, expected one of %s", strings.Join(known, ", "))
			}
		}
	}
	return out
}

func specContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var specTopKeys = []string{"package", "layers"}

var specLayerKeys = []string{"name", "in_channels", "out_channels", "kernel_size", "stride", "padding",
	"dilation", "groups", "bias", "padding_mode", "num_experts", "input_size",
	"routing", "gate", "temperature", "attention_channels", "batch_norm", "batch_norm_eps",
	"activation", "residual", "routing_input", "state_dict"}

var specStateDictKeys = []string{"conv", "batch_norm", "routing"}

// specAliases maps other spellings (PyTorch's, the paper's reference
// module's) to the spec's keys, for "did you mean".
var specAliases = map[string]string{
	"inplanes": "in_channels", "outplanes": "out_channels", "k": "num_experts", "experts": "num_experts",
	"numexpert": "num_experts", "pkg": "package", "mode": "padding_mode", "kernel": "kernel_size",
	"inputshape": "input_size", "size": "input_size", "input": "input_size", "hw": "input_size",
	"bn": "batch_norm", "batchnorm": "batch_norm", "norm": "batch_norm", "act": "activation",
	"eps": "batch_norm_eps", "t": "temperature", "temp": "temperature", "kernelnum": "num_experts",
	"reductionchannels": "attention_channels", "hidden": "attention_channels", "statedict": "state_dict",
}

// specSuggest returns the known key that key is most likely a typo for, or "".
func specSuggest(key string, known []string) string {
	norm := func(s string) string {
		s = strings.ToLower(s)
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(s)
	}
	nk := norm(key)
	if nk == "" || len(nk) > 64 {
		return ""
	}
	if a, ok := specAliases[nk]; ok && specContains(known, a) {
		return a
	}
	for _, k := range known {
		if norm(k) == nk {
			return k
		}
	}
	// The closest key by edit distance, if it is clearly the closest.
	best, bestD, second := "", 1<<30, 1<<30
	for _, k := range known {
		switch d := specEditDistance(nk, norm(k)); {
		case d < bestD:
			best, bestD, second = k, d, bestD
		case d < second:
			second = d
		}
	}
	limit := 1
	if len(nk) > 4 {
		limit = 2
	}
	if len(nk) > 8 {
		limit = 3
	}
	if best != "" && bestD <= limit && second >= bestD+2 {
		return best
	}
	// A part of a key, or a key with more after it: "pad" is padding (a
	// part of padding_mode too), "channels" is ambiguous.
	if len(nk) < 3 {
		return ""
	}
	var cands []string
	for _, k := range known {
		if nk2 := norm(k); strings.Contains(nk2, nk) || strings.HasPrefix(nk, nk2) {
			cands = append(cands, nk2)
		}
	}
	for _, c := range cands {
		all := true
		for _, o := range cands {
			if !strings.Contains(o, c) {
				all = false
			}
		}
		if all {
			for _, k := range known {
				if norm(k) == c {
					return k
				}
			}
		}
	}
	return ""
}

// specEditDistance is the Damerau-Levenshtein (optimal string alignment)
// distance between two short strings.
func specEditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

var specGoKeywords = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true,
	"defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true, "goto": true,
	"if": true, "import": true, "interface": true, "map": true, "package": true, "range": true,
	"return": true, "select": true, "struct": true, "switch": true, "type": true, "var": true,
}

var (
	specPackageRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	specNameRE    = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`)
)

const (
	specPackageWant = "a Go package name (a lower-case identifier that is not a Go keyword)"
	specNameWant    = "an exported Go identifier (an upper-case letter, then letters, digits or _)"
)

func (p *specParser) spec(root *yaml.Node) *Spec {
	n := specDeref(root)
	if n == nil || specIsNull(n) {
		line := 1
		if n != nil {
			line = n.Line
		}
		p.errs = append(p.errs, &SpecError{Path: p.path, Line: line, Col: 1,
			Msg: `expected a mapping with fields "package" and "layers", got an empty document`})
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.add(n, "", "", `expected a mapping with fields "package" and "layers", got %s`, specDescribe(n))
		return nil
	}
	spec := &Spec{}
	f := p.fields(n, "", specTopKeys)
	if pk, ok := f["package"]; !ok {
		p.add(n, "", "package", "expected %s, got nothing (the field is required)", specPackageWant)
	} else if s, ok := specString(pk.val); !ok || !specPackageRE.MatchString(s) || specGoKeywords[s] {
		p.add(pk.val, "", "package", "expected %s, got %s", specPackageWant, specDescribe(pk.val))
	} else {
		spec.Package = s
	}
	ls, ok := f["layers"]
	if !ok {
		p.add(n, "", "layers", "expected a non-empty list of layers, got nothing (the field is required)")
		return spec
	}
	seq := specDeref(ls.val)
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) == 0 {
		p.add(ls.val, "", "layers", "expected a non-empty list of layers, got %s", specDescribe(ls.val))
		return spec
	}
	names := map[string]int{} // name -> line of its first use
	for i, entry := range seq.Content {
		if l, ok := p.layer(i+1, entry, names); ok {
			spec.Layers = append(spec.Layers, l)
		}
	}
	return spec
}

// specPair describes an "int or [A, B]" field.
type specPair struct {
	want   string // what the field expects, for messages
	lo, hi int
	a, b   string // names of the two elements
}

var (
	specKernelPair   = specPair{fmt.Sprintf("a positive int or [KH, KW] (each at most %d)", specMaxKernel), 1, specMaxKernel, "KH", "KW"}
	specStridePair   = specPair{fmt.Sprintf("a positive int or [H, W] (each at most %d)", specMaxStep), 1, specMaxStep, "H", "W"}
	specPaddingPair  = specPair{fmt.Sprintf(`a non-negative int or [PH, PW] (each at most %d), "same" or "valid"`, specMaxStep), 0, specMaxStep, "PH", "PW"}
	specInputPair    = specPair{fmt.Sprintf("[H, W] of positive ints (each at most %d)", specMaxInput), 1, specMaxInput, "H", "W"}
	specChannelsWant = fmt.Sprintf("a positive int (at most %d)", specMaxChannels)
	specExpertsWant  = fmt.Sprintf("a positive int (at most %d)", specMaxExperts)
	specModes        = []string{verify.Zeros, verify.Reflect, verify.Replicate, verify.Circular}
)

// specLayer resolves one layer's fields, recording which are bad.
type specLayer struct {
	*specParser
	label  string
	fields map[string]specField
	bad    map[string]bool
}

func (lp *specLayer) errorf(n *yaml.Node, field, format string, args ...any) {
	lp.bad[field] = true
	lp.add(n, lp.label, field, format, args...)
}

// intField reads a scalar int field in lo..hi; def is used when absent
// (required when def is nil).
func (lp *specLayer) intField(key string, def *int, want string, lo, hi int, node *yaml.Node) int {
	f, ok := lp.fields[key]
	if !ok {
		if def == nil {
			lp.errorf(node, key, "expected %s, got nothing (the field is required)", want)
			return 1
		}
		return *def
	}
	v, ok := specInt(f.val)
	if !ok || v < lo || v > hi {
		lp.errorf(f.val, key, "expected %s, got %s", want, specDescribe(f.val))
		return max(lo, 1)
	}
	return v
}

// pairField reads an "int or [A, B]" field; scalarOK false allows only the
// list form. It returns def, def when the field is absent.
func (lp *specLayer) pairField(key string, sp specPair, scalarOK bool, def int, node *yaml.Node, required bool) (int, int, bool) {
	f, ok := lp.fields[key]
	if !ok {
		if required {
			lp.errorf(node, key, "expected %s, got nothing (the field is required)", sp.want)
		}
		return def, def, false
	}
	n := specDeref(f.val)
	if scalarOK && n.Kind == yaml.ScalarNode {
		v, ok := specInt(n)
		if !ok || v < sp.lo || v > sp.hi {
			lp.errorf(f.val, key, "expected %s, got %s", sp.want, specDescribe(f.val))
			return def, def, false
		}
		return v, v, true
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		lp.errorf(f.val, key, "expected %s, got %s", sp.want, specDescribe(f.val))
		return def, def, false
	}
	var vals [2]int
	good := true
	for i, c := range n.Content {
		v, ok := specInt(c)
		if !ok || v < sp.lo || v > sp.hi {
			name := sp.a
			if i == 1 {
				name = sp.b
			}
			lp.errorf(c, key, "expected %s, got %s as %s", sp.want, specDescribe(c), name)
			good = false
			continue
		}
		vals[i] = v
	}
	if !good {
		return def, def, false
	}
	return vals[0], vals[1], true
}

func (lp *specLayer) pos(key string, fallback *yaml.Node) *yaml.Node {
	if f, ok := lp.fields[key]; ok {
		return f.val
	}
	return fallback
}

// layer resolves the idx'th (1-based) layer entry. names maps the names seen
// so far to their lines.
func (p *specParser) layer(idx int, entry *yaml.Node, names map[string]int) (Layer, bool) {
	label := fmt.Sprintf("layer #%d", idx)
	n := specDeref(entry)
	if n == nil || n.Kind != yaml.MappingNode {
		p.add(entry, label, "", "expected a mapping of layer fields, got %s", specDescribe(entry))
		return Layer{}, false
	}
	nerr := len(p.errs)
	// Name the layer first, so every other error can use it.
	var name string
	nameOK := false
	var nameNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := specDeref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == "name" {
			nameNode = n.Content[i+1]
			if s, ok := specString(nameNode); ok && specNameRE.MatchString(s) {
				name, nameOK = s, true
				label = fmt.Sprintf("layer %q", s)
			}
			break
		}
	}
	lp := &specLayer{specParser: p, label: label, bad: map[string]bool{}}
	lp.fields = p.fields(n, label, specLayerKeys)
	switch {
	case nameNode == nil:
		lp.errorf(n, "name", "expected %s, got nothing (the field is required)", specNameWant)
	case !nameOK:
		lp.errorf(nameNode, "name", "expected %s, got %s", specNameWant, specDescribe(nameNode))
	default:
		if first, dup := names[name]; dup {
			at := nameNode
			if entry.Kind == yaml.AliasNode {
				at = entry // the same layer again, by alias
			}
			lp.errorf(at, "name", "expected a unique layer name, got %q again (first used at line %d)", name, first)
		} else {
			names[name] = entry.Line
		}
	}

	var prm verify.Params
	one, three := 1, 3
	prm.InC = lp.intField("in_channels", nil, specChannelsWant, 1, specMaxChannels, n)
	prm.OutC = lp.intField("out_channels", nil, specChannelsWant, 1, specMaxChannels, n)
	prm.Groups = lp.intField("groups", &one, specChannelsWant, 1, specMaxChannels, n)
	prm.K = lp.intField("num_experts", &three, specExpertsWant, 1, specMaxExperts, n)
	prm.KH, prm.KW, _ = lp.pairField("kernel_size", specKernelPair, true, 1, n, true)
	prm.SH, prm.SW, _ = lp.pairField("stride", specStridePair, true, 1, n, false)
	prm.DH, prm.DW, _ = lp.pairField("dilation", specStridePair, true, 1, n, false)

	prm.Bias = true
	if f, ok := lp.fields["bias"]; ok {
		if b, ok := specBool(f.val); ok {
			prm.Bias = b
		} else {
			lp.errorf(f.val, "bias", "expected true or false, got %s", specDescribe(f.val))
		}
	}

	prm.Mode = verify.Zeros
	if f, ok := lp.fields["padding_mode"]; ok {
		s, ok := specString(f.val)
		switch {
		case ok && specContains(specModes, s):
			prm.Mode = s
		case ok && specSuggest(s, specModes) != "":
			lp.errorf(f.val, "padding_mode", "expected one of zeros, reflect, replicate or circular, got %q; did you mean %q?", s, specSuggest(s, specModes))
		default:
			lp.errorf(f.val, "padding_mode", "expected one of zeros, reflect, replicate or circular, got %s", specDescribe(f.val))
		}
	}

	// Padding: int, [PH, PW], "same" or "valid".
	same := false
	if f, ok := lp.fields["padding"]; ok {
		if s, isStr := specString(f.val); isStr {
			switch s {
			case "same":
				same = true
			case "valid":
			default:
				if sg := specSuggest(s, []string{"same", "valid"}); sg != "" {
					lp.errorf(f.val, "padding", "expected %s, got %q; did you mean %q?", specPaddingPair.want, s, sg)
				} else {
					lp.errorf(f.val, "padding", "expected %s, got %q", specPaddingPair.want, s)
				}
			}
		} else {
			ph, pw, _ := lp.pairField("padding", specPaddingPair, true, 0, n, false)
			prm.PadT, prm.PadB, prm.PadL, prm.PadR = ph, ph, pw, pw
		}
	}
	if same {
		padNode := lp.fields["padding"].val
		if !lp.bad["stride"] && (prm.SH != 1 || prm.SW != 1) {
			lp.errorf(padNode, "padding", `expected "same" only with stride 1 (as PyTorch), got "same" with stride [%d, %d]`, prm.SH, prm.SW)
		}
		if !lp.bad["kernel_size"] && !lp.bad["dilation"] {
			th, tw := prm.DH*(prm.KH-1), prm.DW*(prm.KW-1)
			prm.PadT, prm.PadL = th/2, tw/2
			prm.PadB, prm.PadR = th-prm.PadT, tw-prm.PadL
			if prm.PadB > specMaxStep || prm.PadR > specMaxStep {
				lp.errorf(padNode, "padding", `expected padding of at most %d per side, got "same" resolving to (t%d, b%d, l%d, r%d) for dilation [%d, %d] and kernel_size [%d, %d]`,
					specMaxStep, prm.PadT, prm.PadB, prm.PadL, prm.PadR, prm.DH, prm.DW, prm.KH, prm.KW)
			}
		} else {
			lp.bad["padding"] = true
		}
	}
	if lp.bad["padding"] {
		prm.PadT, prm.PadB, prm.PadL, prm.PadR = 0, 0, 0, 0
	}

	var inH, inW int
	fixed := false
	if f, ok := lp.fields["input_size"]; ok && !specIsNull(f.val) {
		inH, inW, fixed = lp.pairField("input_size", specInputPair, false, 0, n, false)
		if !fixed {
			inH, inW = 0, 0
		}
	}

	sd := lp.family(&prm, n)

	// Cross-field checks, each only when the fields it reads are good (bad
	// ones hold valid placeholders, so Check sees only real problems).
	if !lp.bad["in_channels"] && !lp.bad["out_channels"] && !lp.bad["groups"] && (prm.InC%prm.Groups != 0 || prm.OutC%prm.Groups != 0) {
		z := verify.Params{InC: prm.InC, OutC: prm.OutC, Groups: prm.Groups}
		lp.errorf(lp.pos("groups", n), "groups", "expected a positive int dividing in_channels (%d) and out_channels (%d), got %d: %v",
			prm.InC, prm.OutC, prm.Groups, z.CheckGroups())
	} else if !lp.anyBad("in_channels", "out_channels", "groups", "routing", "gate", "temperature", "attention_channels",
		"batch_norm", "batch_norm_eps", "activation", "kernel_size", "stride", "padding", "dilation", "padding_mode",
		"bias", "num_experts", "routing_input") {
		// Anything else Check finds (none of it should get here: the
		// fields' own checks come first).
		if err := prm.Check(); err != nil {
			lp.add(n, label, "", "invalid layer: %v", err)
			lp.bad["layer"] = true
		}
	}
	if fixed && !lp.anyBad("kernel_size", "stride", "dilation", "padding", "padding_mode") {
		zeros := prm
		zeros.Mode = verify.Zeros
		errZ := zeros.CheckInput(inH, inW)
		if errZ != nil {
			lp.errorf(lp.fields["input_size"].val, "input_size",
				"expected an input at least as large as the dilated kernel after padding, got [%d, %d] with padding (t%d, b%d, l%d, r%d): %v",
				inH, inW, prm.PadT, prm.PadB, prm.PadL, prm.PadR, errZ)
		}
		if err := prm.CheckInput(inH, inW); err != nil && (errZ == nil || err.Error() != errZ.Error()) {
			rel := "smaller than"
			if prm.Mode == verify.Circular {
				rel = "at most"
			}
			lp.errorf(lp.pos("padding", lp.pos("padding_mode", n)), "padding",
				"expected padding %s the input size [%d, %d] with padding_mode %s, got (t%d, b%d, l%d, r%d): %v",
				rel, inH, inW, prm.Mode, prm.PadT, prm.PadB, prm.PadL, prm.PadR, err)
		}
	}
	if !lp.anyBad("in_channels", "out_channels", "groups", "kernel_size", "num_experts") {
		if w, fc := prm.WeightLen(), prm.FCWeightLen(); w > specMaxWeights || fc > specMaxWeights {
			lp.add(n, label, "", "expected at most %d elements in the expert weights [num_experts, out_channels, in_channels/groups, KH, KW] and the FC weights [num_experts·out_channels, in_channels], got %d and %d",
				specMaxWeights, w, fc)
		}
	}
	if len(p.errs) > nerr {
		return Layer{}, false
	}
	return Layer{Name: name, Line: entry.Line, Params: prm, InputH: inH, InputW: inW, StateDict: sd}, true
}

// stringField reads a string field whose value is one of list; def when
// absent.
func (lp *specLayer) stringField(key string, list []string, def string) string {
	f, ok := lp.fields[key]
	if !ok {
		return def
	}
	want := "one of " + strings.Join(list, ", ")
	s, ok := specString(f.val)
	switch {
	case ok && specContains(list, s):
		return s
	case ok && specSuggest(s, list) != "":
		lp.errorf(f.val, key, "expected %s, got %q; did you mean %q?", want, s, specSuggest(s, list))
	default:
		lp.errorf(f.val, key, "expected %s, got %s", want, specDescribe(f.val))
	}
	return def
}

// boolField reads a bool field, def when absent.
func (lp *specLayer) boolField(key string, def bool) bool {
	f, ok := lp.fields[key]
	if !ok {
		return def
	}
	b, ok := specBool(f.val)
	if !ok {
		lp.errorf(f.val, key, "expected true or false, got %s", specDescribe(f.val))
		return def
	}
	return b
}

// onlyWith reports key as an error when it is present but does not apply:
// why says when it does.
func (lp *specLayer) onlyWith(key string, applies bool, why string) {
	if f, ok := lp.fields[key]; ok && !applies {
		lp.errorf(f.key, key, "expected only %s, got %s", why, specDescribe(f.val))
	}
}

// family reads the keys of the dynamic-convolution family and the epilogue
// into prm (filling in their defaults with WithDefaults) and returns the
// state_dict paths. It refuses the combinations the reference modules do
// not define.
func (lp *specLayer) family(prm *verify.Params, n *yaml.Node) StateDict {
	prm.Routing = lp.stringField("routing", verify.Routings, verify.DyNet)
	r := prm.Routing
	lp.onlyWith("gate", r == verify.DyNet, "with routing: dynet (the other routings have their own gates)")
	if r == verify.DyNet {
		prm.Gate = lp.stringField("gate", verify.Gates, verify.Softmax)
	}
	attn := r == verify.DyCNN || r == verify.ODConv
	lp.onlyWith("temperature", attn, "with routing: dycnn or odconv")
	lp.onlyWith("attention_channels", attn, "with routing: dycnn or odconv")
	if attn {
		prm.Temperature = 1
		if f, ok := lp.fields["temperature"]; ok {
			if v, ok := specFloat(f.val); ok && v > 0 {
				prm.Temperature = v
			} else {
				lp.errorf(f.val, "temperature", "expected a positive number (1 for a converged checkpoint), got %s", specDescribe(f.val))
			}
		}
		zero := 0
		prm.AttnC = lp.intField("attention_channels", &zero, specChannelsWant, 1, specMaxChannels, n)
	}
	prm.BatchNorm = lp.boolField("batch_norm", false)
	lp.onlyWith("batch_norm_eps", prm.BatchNorm, "with batch_norm: true")
	if prm.BatchNorm {
		prm.BNEps = verify.DefaultBNEps
		if f, ok := lp.fields["batch_norm_eps"]; ok {
			if v, ok := specFloat(f.val); ok && v > 0 {
				prm.BNEps = v
			} else {
				lp.errorf(f.val, "batch_norm_eps", "expected a positive number, got %s", specDescribe(f.val))
			}
		}
	}
	prm.Activation = lp.stringField("activation", verify.Activations, verify.ActNone)
	prm.Residual = lp.boolField("residual", false)
	switch lp.stringField("routing_input", []string{"own", "external"}, "own") {
	case "external":
		prm.ExternalRouting = true
	}
	if r == verify.Static {
		if f, ok := lp.fields["num_experts"]; ok && !lp.bad["num_experts"] && prm.K != 1 {
			lp.errorf(f.val, "num_experts", "expected 1 (a static layer has one kernel), got %s", specDescribe(f.val))
		}
		prm.K = 1
		if f, ok := lp.fields["routing_input"]; ok && prm.ExternalRouting {
			lp.errorf(f.val, "routing_input", "expected own (a static layer has no routing), got external")
		}
	}
	if r == verify.ODConv {
		if f, ok := lp.fields["padding_mode"]; ok && !lp.bad["padding_mode"] && prm.Mode != verify.Zeros {
			lp.errorf(f.val, "padding_mode", "expected zeros with routing: odconv (its channel attention scales the input before the zero padding), got %s", prm.Mode)
		}
		if f, ok := lp.fields["bias"]; ok && !lp.bad["bias"] && prm.Bias {
			lp.errorf(f.val, "bias", "expected false with routing: odconv (ODConv2d has no conv bias), got true")
		}
		prm.Bias = false
	}
	if attn {
		for _, c := range []struct {
			key  string
			a, b int
		}{{"kernel_size", prm.KH, prm.KW}, {"stride", prm.SH, prm.SW}, {"dilation", prm.DH, prm.DW}} {
			if !lp.bad[c.key] && c.a != c.b {
				lp.errorf(lp.pos(c.key, n), c.key, "expected a square %s with routing: %s (the reference takes an int), got [%d, %d]", c.key, r, c.a, c.b)
			}
		}
		if !lp.bad["padding"] && !(prm.PadT == prm.PadB && prm.PadL == prm.PadR && prm.PadT == prm.PadL) {
			lp.errorf(lp.pos("padding", n), "padding", "expected the same padding on every side with routing: %s (the reference takes an int), got (t%d, b%d, l%d, r%d)",
				r, prm.PadT, prm.PadB, prm.PadL, prm.PadR)
		}
	}
	// The reference's attention width, once the channels are known.
	if attn && prm.AttnC == 0 && !lp.bad["in_channels"] && !lp.bad["num_experts"] {
		prm.AttnC = verify.DefaultAttnC(r, prm.InC, prm.K)
	}
	*prm = prm.WithDefaults()

	var sd StateDict
	f, ok := lp.fields["state_dict"]
	if !ok {
		return sd
	}
	m := specDeref(f.val)
	if m == nil || m.Kind != yaml.MappingNode {
		lp.errorf(f.val, "state_dict", "expected a mapping of module paths (conv, batch_norm, routing), got %s", specDescribe(f.val))
		return sd
	}
	sub := lp.fields
	lp.fields = lp.specParser.fields(m, lp.label, specStateDictKeys)
	defer func() { lp.fields = sub }()
	path := func(key string, applies bool, why string) string {
		f, ok := lp.fields[key]
		if !ok {
			return ""
		}
		field := "state_dict." + key
		if !applies {
			lp.errorf(f.key, field, "expected only %s, got %s", why, specDescribe(f.val))
			return ""
		}
		s, ok := specString(f.val)
		if !ok || !specModulePathRE.MatchString(s) {
			lp.errorf(f.val, field, "expected a module path such as layer1.0.conv1 (names and indices joined by dots, no trailing dot), got %s", specDescribe(f.val))
			return ""
		}
		return s
	}
	sd.Conv = path("conv", true, "")
	sd.BatchNorm = path("batch_norm", prm.BatchNorm, "with batch_norm: true")
	sd.Routing = path("routing", r != verify.Static && !prm.ExternalRouting, "for a layer with its own routing (not static, not routing_input: external)")
	return sd
}

var specModulePathRE = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

func (lp *specLayer) anyBad(keys ...string) bool {
	if lp.bad["layer"] {
		return true
	}
	for _, k := range keys {
		if lp.bad[k] {
			return true
		}
	}
	return false
}
