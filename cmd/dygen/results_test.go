package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseCheck(t *testing.T) {
	c, err := parseCheck("DYGEN layer=Conv3x3 check=golden:case003.safetensors maxabs=1.2e-06 maxrel=3e-07 ratio=0.01 ok=true extra=1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Layer != "Conv3x3" || c.Check != "golden:case003.safetensors" || c.MaxAbs != 1.2e-6 || c.MaxRel != 3e-7 || c.Ratio != 0.01 || !c.OK {
		t.Errorf("parseCheck = %+v", c)
	}
	for _, bad := range []string{
		"DYGEN layer=X check=random maxabs=x maxrel=0 ratio=0 ok=true",
		"DYGEN layer=X check=random maxabs=0 maxrel=0 ratio=0",
		"DYGEN layer=X check=random maxabs=0 maxrel=0 ratio=0 ok=maybe",
		"DYGEN layer=X check random",
	} {
		if _, err := parseCheck(bad); err == nil {
			t.Errorf("parseCheck(%q) succeeded", bad)
		}
	}
}

func TestParseTestJSON(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"start","Package":"m/p"}`,
		`{"Action":"run","Package":"m/p","Test":"TestA"}`,
		`{"Action":"output","Package":"m/p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		// A line split over two events.
		`{"Action":"output","Package":"m/p","Test":"TestA","Output":"    a_test.go:10: DYGEN layer=A check=random maxabs=1e-06 "}`,
		`{"Action":"output","Package":"m/p","Test":"TestA","Output":"maxrel=2e-07 ratio=0.5 ok=true\n"}`,
		`{"Action":"output","Package":"m/p","Test":"TestA","Output":"    a_test.go:11: DYGEN layer=A check=golden:case001.safetensors maxabs=1e-03 maxrel=2e-02 ratio=7 ok=false\n"}`,
		`{"Action":"output","Package":"m/p","Test":"TestA","Output":"    a_test.go:12: DYGEN layer=A check=broken\n"}`,
		`{"Action":"fail","Package":"m/p","Test":"TestA","Elapsed":0.1}`,
		`{"Action":"run","Package":"m/p","Test":"TestB"}`,
		`{"Action":"pass","Package":"m/p","Test":"TestB","Elapsed":0.1}`,
		`{"Action":"output","Package":"m/p","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"m/p","Elapsed":0.2}`,
		`{"ImportPath":"m/q","Action":"build-output","Output":"q/q.go:3:1: syntax error\n"}`,
		`{"ImportPath":"m/q","Action":"build-fail"}`,
		`not json at all`,
	}, "\n")
	rep, err := parseTestJSON(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Checks) != 2 {
		t.Fatalf("got %d checks, want 2: %+v", len(rep.Checks), rep.Checks)
	}
	if c := rep.Checks[0]; c.Layer != "A" || c.Check != "random" || c.Ratio != 0.5 || !c.OK || c.Test != "TestA" || c.Pkg != "m/p" {
		t.Errorf("check 0 = %+v", c)
	}
	if c := rep.Checks[1]; c.OK || c.Ratio != 7 {
		t.Errorf("check 1 = %+v", c)
	}
	if len(rep.BadLines) != 1 || !strings.Contains(rep.BadLines[0], "check=broken") {
		t.Errorf("bad lines = %q", rep.BadLines)
	}
	failed := rep.failed()
	if len(failed) != 2 || failed[0].Test != "" || failed[1].Test != "TestA" {
		t.Errorf("failed = %+v", failed)
	}
	if len(rep.Build) != 1 || !strings.Contains(rep.Build[0], "syntax error") {
		t.Errorf("build output = %q", rep.Build)
	}
	if len(rep.Other) != 1 {
		t.Errorf("other lines = %q", rep.Other)
	}

	var buf bytes.Buffer
	writeTable(&buf, rep.Checks)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "worst err/bound") ||
		!strings.Contains(lines[2], "random") || !strings.HasSuffix(lines[2], "ok") || !strings.HasSuffix(lines[3], "FAIL") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestMergeChecks(t *testing.T) {
	rows := mergeChecks([]*check{
		{Layer: "A", Check: "random", MaxAbs: 1, MaxRel: 4, Ratio: 0.1, OK: true},
		{Layer: "B", Check: "random", MaxAbs: 1, MaxRel: 1, Ratio: 0.1, OK: true},
		{Layer: "A", Check: "random", MaxAbs: 3, MaxRel: 2, Ratio: 2, OK: false},
		{Layer: "A", Check: "golden:x", MaxAbs: 1, MaxRel: 1, Ratio: 0.5, OK: true},
	})
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(rows))
	}
	if r := rows[0]; r.Layer != "A" || r.Check != "random" || r.Runs != 2 || r.MaxAbs != 3 || r.MaxRel != 4 || r.Ratio != 2 || r.OK {
		t.Errorf("row 0 = %+v", r)
	}
	if r := rows[1]; r.Layer != "B" || r.Runs != 1 || !r.OK {
		t.Errorf("row 1 = %+v", r)
	}
	if r := rows[2]; r.Check != "golden:x" || !r.OK {
		t.Errorf("row 2 = %+v", r)
	}
}
