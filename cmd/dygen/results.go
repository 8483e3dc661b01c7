package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// check is one result line that a generated test printed:
//
//	DYGEN layer=X check=NAME maxabs=1.2e-06 maxrel=3e-07 ratio=0.01 ok=true
//
// ratio is the worst error divided by the error bound (≤ 1 passes).
type check struct {
	Layer, Check           string
	MaxAbs, MaxRel, Ratio  float64
	OK                     bool
	Pkg, Test              string // the test that printed it
	raw                    string // the line as printed
	layerIndex, orderIndex int    // for sorting
}

// testRun is one test (or, with Test empty, one package) of a go test -json
// run.
type testRun struct {
	Pkg, Test string
	Action    string   // the final action: pass, fail, skip ("" if none)
	Output    []string // its output lines
}

// testReport is what a go test -json run said.
type testReport struct {
	Checks   []*check
	Runs     []*testRun // in the order they started, packages included
	Build    []string   // build output (compiler errors)
	Other    []string   // stdout lines that were not JSON
	BadLines []string   // DYGEN lines that did not parse
}

// testEvent is one line of go test -json (see `go doc test2json`).
type testEvent struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // for build-output events
}

// parseTestJSON reads the output of go test -json.
func parseTestJSON(r io.Reader) (*testReport, error) {
	rep := &testReport{}
	runs := map[[2]string]*testRun{}
	get := func(pkg, test string) *testRun {
		k := [2]string{pkg, test}
		tr := runs[k]
		if tr == nil {
			tr = &testRun{Pkg: pkg, Test: test}
			runs[k] = tr
			rep.Runs = append(rep.Runs, tr)
		}
		return tr
	}
	// Output may come in pieces; join them per test up to each newline.
	partial := map[[2]string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev testEvent
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			rep.Other = append(rep.Other, string(line))
			continue
		}
		switch ev.Action {
		case "build-output":
			rep.Build = append(rep.Build, strings.TrimRight(ev.Output, "\n"))
			continue
		case "build-fail":
			continue
		}
		if ev.Package == "" {
			continue
		}
		tr := get(ev.Package, ev.Test)
		switch ev.Action {
		case "output":
			k := [2]string{ev.Package, ev.Test}
			text := partial[k] + ev.Output
			for {
				i := strings.IndexByte(text, '\n')
				if i < 0 {
					break
				}
				rep.addLine(tr, text[:i])
				text = text[i+1:]
			}
			partial[k] = text
		case "pass", "fail", "skip":
			tr.Action = ev.Action
		}
	}
	for k, text := range partial {
		if text != "" {
			rep.addLine(runs[k], text)
		}
	}
	return rep, sc.Err()
}

func (rep *testReport) addLine(tr *testRun, line string) {
	tr.Output = append(tr.Output, line)
	i := strings.Index(line, "DYGEN ")
	if i < 0 {
		return
	}
	c, err := parseCheck(line[i:])
	if err != nil {
		rep.BadLines = append(rep.BadLines, fmt.Sprintf("%s %s: %v: %s", tr.Pkg, tr.Test, err, strings.TrimSpace(line)))
		return
	}
	c.Pkg, c.Test = tr.Pkg, tr.Test
	c.orderIndex = len(rep.Checks)
	rep.Checks = append(rep.Checks, c)
}

// parseCheck parses a DYGEN result line.
func parseCheck(line string) (*check, error) {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "DYGEN" {
		return nil, fmt.Errorf("not a DYGEN line")
	}
	c := &check{raw: line}
	seen := map[string]bool{}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("field %q is not key=value", kv)
		}
		var err error
		switch k {
		case "layer":
			c.Layer = v
		case "check":
			c.Check = v
		case "maxabs":
			c.MaxAbs, err = strconv.ParseFloat(v, 64)
		case "maxrel":
			c.MaxRel, err = strconv.ParseFloat(v, 64)
		case "ratio":
			c.Ratio, err = strconv.ParseFloat(v, 64)
		case "ok":
			c.OK, err = strconv.ParseBool(v)
		default:
			continue // a field added later: ignored
		}
		if err != nil {
			return nil, fmt.Errorf("field %s: %v", k, err)
		}
		seen[k] = true
	}
	for _, k := range []string{"layer", "check", "maxabs", "maxrel", "ratio", "ok"} {
		if !seen[k] {
			return nil, fmt.Errorf("no %s= field", k)
		}
	}
	return c, nil
}

// failed returns the tests and packages that failed.
func (rep *testReport) failed() []*testRun {
	var out []*testRun
	for _, tr := range rep.Runs {
		if tr.Action == "fail" {
			out = append(out, tr)
		}
	}
	return out
}

// row is one line of the results table: the checks of one layer with one
// name (a differential test runs several sizes and batches), merged.
type row struct {
	Layer, Check          string
	Runs                  int
	MaxAbs, MaxRel, Ratio float64 // the largest over the runs
	OK                    bool    // every run passed
}

// mergeChecks merges checks of the same layer and name into rows, in the
// order of their first check.
func mergeChecks(checks []*check) []*row {
	var rows []*row
	byKey := map[[2]string]*row{}
	for _, c := range checks {
		k := [2]string{c.Layer, c.Check}
		r := byKey[k]
		if r == nil {
			r = &row{Layer: c.Layer, Check: c.Check, OK: true}
			byKey[k] = r
			rows = append(rows, r)
		}
		r.Runs++
		r.MaxAbs = max(r.MaxAbs, c.MaxAbs)
		r.MaxRel = max(r.MaxRel, c.MaxRel)
		r.Ratio = max(r.Ratio, c.Ratio)
		r.OK = r.OK && c.OK
	}
	return rows
}

// writeTable prints the checks as a table, a row per layer and check name.
func writeTable(w io.Writer, checks []*check) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tcheck\tmax abs err\tmax rel err\tworst err/bound\tstatus")
	fmt.Fprintln(tw, "-----\t-----\t-----------\t-----------\t---------------\t------")
	for _, r := range mergeChecks(checks) {
		status := "ok"
		if !r.OK {
			status = "FAIL"
		}
		name := r.Check
		if r.Runs > 1 {
			name += fmt.Sprintf(" (%d runs)", r.Runs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%s\n", r.Layer, name, r.MaxAbs, r.MaxRel, r.Ratio, status)
	}
	tw.Flush()
}
