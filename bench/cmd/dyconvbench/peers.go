package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/dygen/dygen/bench/im2col"
	"github.com/dygen/dygen/dyrt"
	"github.com/dygen/dygen/generated/suite"
)

// peer is one implementation of the DyConv forward under test. Setup
// prepares a (layer, N, threads) configuration, runs the forward once and
// returns its output (checked against dygen's) and what the peer reports
// about itself (formulation, dispatched ISA, …); Time runs reps forwards
// back to back and returns each one's time in milliseconds.
type peer interface {
	Name() string
	Setup(l *suiteLayer, d *layerData, n, threads int, outPath string) (info map[string]any, y []float32, err error)
	Time(reps int) ([]float64, error)
	Close() error
}

// goPeer runs a Go implementation in this process (GOMAXPROCS is set to the
// configuration's thread count by the driver).
type goPeer struct {
	name string
	make func(l *suiteLayer, d *layerData, n, threads int) (func(dst, src []float32) error, map[string]any, error)
	run  func() error
	// pin, when set, selects the peer's kernel variant before it runs (the
	// dygen peers share the generated package's switches).
	pin func()
}

func (g *goPeer) Name() string { return g.name }
func (g *goPeer) Close() error { return nil }

func (g *goPeer) Setup(l *suiteLayer, d *layerData, n, threads int, _ string) (map[string]any, []float32, error) {
	if g.pin != nil {
		g.pin()
	}
	f, info, err := g.make(l, d, n, threads)
	if err != nil {
		return nil, nil, err
	}
	ho, wo := l.P.Out()
	dst := make([]float32, n*l.P.Cout*ho*wo)
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	src := d.X[:n*l.P.Cin*l.P.H*l.P.W]
	g.run = func() error { return f(dst, src) }
	if err := g.run(); err != nil {
		return nil, nil, err
	}
	y := append([]float32(nil), dst...)
	t0 := time.Now()
	if err := g.run(); err != nil {
		return nil, nil, err
	}
	info["first_ms"] = float64(time.Since(t0).Nanoseconds()) / 1e6
	return info, y, nil
}

func (g *goPeer) Time(reps int) ([]float64, error) {
	if g.pin != nil {
		g.pin()
	}
	ts := make([]float64, reps)
	for i := range ts {
		t0 := time.Now()
		if err := g.run(); err != nil {
			return nil, err
		}
		ts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	return ts, nil
}

// dygenPeer is the generated suite as dispatched (name "dygen": AVX-512
// micro-kernels where dyrt.AVX512 holds) or pinned to AVX2 ("dygen-avx2":
// suite.SetAVX512(false), the in-process twin of GODEBUG=cpu.avx512f=off).
func dygenPeer(name string) peer {
	wide := dyrt.AVX512 && name == "dygen"
	return &goPeer{name: name, pin: func() { suite.SetAVX512(wide) }, make: func(l *suiteLayer, d *layerData, n, threads int) (func(dst, src []float32) error, map[string]any, error) {
		fw, err := l.New(d.Weight, d.Bias, d.FCWeight, d.FCBias)
		if err != nil {
			return nil, nil, err
		}
		if o, ok := fw.(interface{ OutputSize(h, w int) (int, int) }); ok {
			ho, wo := o.OutputSize(l.P.H, l.P.W)
			if eh, ew := l.P.Out(); ho != eh || wo != ew {
				return nil, nil, fmt.Errorf("%s: generated layer's output %dx%d, bench's table says %dx%d: bench/cmd/dyconvbench/layers.go is out of date with generated/suite.yaml", l.Name, ho, wo, eh, ew)
			}
		}
		p := l.P
		return func(dst, src []float32) error { return fw.Forward(dst, src, n, p.H, p.W) },
			map[string]any{"package": "github.com/dygen/dygen/generated/suite", "threads_note": "Forward as generated; GOMAXPROCS set to the thread count",
				"avx512": wide, "avx512_rule": dyrt.AVX512Reason}, nil
	}}
}

func gonumPeer() peer {
	return &goPeer{name: "gonum", make: func(l *suiteLayer, d *layerData, n, threads int) (func(dst, src []float32) error, map[string]any, error) {
		il, err := im2col.New(l.P, d.Weight, d.Bias, d.FCWeight, d.FCBias)
		if err != nil {
			return nil, nil, err
		}
		form := "per-sample im2col + Sgemm per group (Sgemm spreads over GOMAXPROCS)"
		if threads > 1 && n > 1 {
			form = "samples spread over goroutines, im2col + Sgemm per group"
		}
		return func(dst, src []float32) error { return il.Forward(dst, src, n, threads) },
			map[string]any{"formulation": form}, nil
	}}
}

// procPeer is a peer in another process (the PyTorch script, the oneDNN
// harness), driven over its stdin/stdout with the line protocol described
// in bench/peers/*.
type procPeer struct {
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
}

// tailBuffer keeps the last 4 KiB written to it, for error messages.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}

// startProc starts a peer process with environment env (nil: this
// process's).
func startProc(name string, env []string, argv ...string) (*procPeer, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = env
	p := &procPeer{name: name, cmd: c, stderr: &tailBuffer{}}
	c.Stderr = p.stderr
	in, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.in, p.out = in, bufio.NewReaderSize(out, 1<<20)
	return p, nil
}

func (p *procPeer) Name() string { return p.name }

func (p *procPeer) call(line string, v any) error {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return fmt.Errorf("%s: %w (stderr: %s)", p.name, err, p.stderr)
	}
	resp, err := p.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no answer to %q: %w (stderr: %s)", p.name, strings.Fields(line)[0], err, p.stderr)
	}
	resp = strings.TrimSpace(resp)
	switch {
	case strings.HasPrefix(resp, "ok "):
		return json.Unmarshal([]byte(resp[3:]), v)
	case strings.HasPrefix(resp, "err "):
		return fmt.Errorf("%s: %s", p.name, resp[4:])
	}
	return fmt.Errorf("%s: unexpected answer %q (stderr: %s)", p.name, resp, p.stderr)
}

func (p *procPeer) Setup(l *suiteLayer, d *layerData, n, threads int, outPath string) (map[string]any, []float32, error) {
	q := l.P
	line := fmt.Sprintf("setup %s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %s",
		d.Dir, q.Cin, q.Cout, q.KH, q.KW, q.SH, q.SW, q.PH, q.PW, q.DH, q.DW, q.G, q.K, q.H, q.W, n, threads, outPath)
	info := map[string]any{}
	if err := p.call(line, &info); err != nil {
		return nil, nil, err
	}
	ho, wo := q.Out()
	y, err := readF32(outPath, n*q.Cout*ho*wo)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p.name, err)
	}
	return info, y, nil
}

func (p *procPeer) Time(reps int) ([]float64, error) {
	var r struct{ MS []float64 }
	if err := p.call(fmt.Sprintf("time %d", reps), &r); err != nil {
		return nil, err
	}
	if len(r.MS) != reps {
		return nil, fmt.Errorf("%s: %d times for %d reps", p.name, len(r.MS), reps)
	}
	return r.MS, nil
}

func (p *procPeer) Close() error {
	io.WriteString(p.in, "quit\n")
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		return errors.New(p.name + ": killed after quit")
	}
}

// checkPython fails with the package to install when python has no torch.
func checkPython(python string) error {
	out, err := exec.Command(python, "-c", "import torch, numpy; print(torch.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("PyTorch peer: %s cannot import torch (%v: %s): install Debian's python3-torch (apt-get install -y python3-torch) and pass -python /usr/bin/python3, or leave the peer out with -peers", python, err, strings.TrimSpace(lastLine(string(out))))
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
