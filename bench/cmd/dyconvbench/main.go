// Command dyconvbench compares dygen's generated DyConv layers
// (generated/suite) with the peers a user would otherwise pick: oneDNN
// through a small C++ harness, PyTorch, and im2col + gonum Sgemm in Go.
// Every peer computes the whole forward (pool, FC, softmax, fusion,
// convolution) on the same data; its output is checked against dygen's
// before it is timed; the peers run in interleaved rounds and the table
// reports medians. See bench/README.md; bench/run.sh runs it all.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dygen/dygen/bench/im2col"
	"github.com/dygen/dygen/internal/peak"
)

// peerResult is one peer's measurement of one configuration.
type peerResult struct {
	OK          bool           `json:"ok"`
	Error       string         `json:"error,omitempty"`
	Info        map[string]any `json:"info,omitempty"`
	RelErr      float64        `json:"rel_err"` // max|y−y_dygen| / max|y_dygen|
	Reps        int            `json:"reps_per_round"`
	RoundMedMS  []float64      `json:"round_median_ms"`
	AllMS       [][]float64    `json:"all_ms"`
	MedianMS    float64        `json:"median_ms"`
	GFLOPS      float64        `json:"gflops"`
	PctPeak     float64        `json:"pct_of_1core_peak"`
	PctPeakAllT float64        `json:"pct_of_threads_peak"`
}

type configResult struct {
	Layer   string                 `json:"layer"`
	Desc    string                 `json:"desc"`
	Params  im2col.Params          `json:"params"`
	N       int                    `json:"n"`
	Threads int                    `json:"threads"`
	FLOPs   float64                `json:"flops"`
	LoadAvg string                 `json:"loadavg_at_start"` // /proc/loadavg: the machine is shared
	Peers   map[string]*peerResult `json:"peers"`
	// Ratios are dygen's GFLOP/s over a peer's or a group of peers' best
	// (see ratioColumns): "best_onednn_kept" is the ratio of record.
	Ratios map[string]float64 `json:"dygen_over,omitempty"`
}

type report struct {
	Started string         `json:"started"`
	Seconds float64        `json:"seconds"`
	Machine map[string]any `json:"machine"`
	PeakGF  float64        `json:"peak_gflops_1core"`
	Peak    map[string]any `json:"peak"`
	// PeakAVX512 is the single-core AVX-512F FMA peak (internal/peak, 24
	// ZMM chains) where the CPU has AVX-512F, else 0. With it, the tables'
	// % of peak are of it (the faster ISA), and the charts draw both.
	PeakAVX512 float64  `json:"peak_avx512_gflops_1core,omitempty"`
	Rounds     int      `json:"rounds"`
	TargetMS   float64  `json:"target_ms_per_slot"`
	Seed       uint64   `json:"seed"`
	PeerOrder  []string `json:"peer_order"`
	// Peers says what each peer name stands for (the two oneDNN modes, the
	// ISA cap); RatioOfRecord which ratio the summary quotes.
	Peers         map[string]string `json:"peers,omitempty"`
	RatioOfRecord string            `json:"ratio_of_record,omitempty"`
	Results       []*configResult   `json:"results"`
}

// bestPeak is the single-core peak the % columns are of: AVX-512F's where
// measured, else AVX2's.
func (r *report) bestPeak() float64 {
	return max(r.PeakGF, r.PeakAVX512)
}

func main() {
	var (
		outDir   = flag.String("out", "results", "folder for results.json, table.md and the charts")
		dataDir  = flag.String("data", "out/data", "folder for the generated data files and the peers' outputs")
		peersF   = flag.String("peers", strings.Join(defaultPeers, ","), "peers in interleaving order, out of the default's (dygen first: it is the reference)")
		layersF  = flag.String("layers", ".", "regexp selecting suite layers by name")
		nsF      = flag.String("n", "1,8", "batch sizes")
		thF      = flag.String("threads", "1,2", "thread counts")
		rounds   = flag.Int("rounds", 7, "interleaved rounds per configuration")
		targetMS = flag.Float64("target-ms", 100, "time each peer runs per round: reps = ceil(target / one forward), at least 1")
		maxReps  = flag.Int("max-reps", 200, "most forwards per peer per round")
		seed     = flag.Uint64("seed", 20240601, "seed of the generated weights and inputs")
		onednn   = flag.String("onednn", "out/onednn_dyconv", "oneDNN harness binary (bench/peers/onednn_dyconv.cpp; run.sh builds it)")
		peakBin  = flag.String("peak", "out/fma_peak", "FMA peak micro-benchmark binary (bench/peak/fma_peak.c; run.sh builds it)")
		python   = flag.String("python", "/usr/bin/python3", "python with Debian's python3-torch")
		script   = flag.String("pytorch-script", "peers/pytorch_dyconv.py", "the PyTorch peer")
		maxRel   = flag.Float64("max-rel-err", 1e-4, "a peer whose output differs from dygen's by more (relative to the output's scale) is not timed")
	)
	from := flag.String("from", "", "only render table.md and the charts into -out from this results.json (no run)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	start := time.Now()
	if *from != "" {
		b, err := os.ReadFile(*from)
		must(err)
		var rep report
		must(json.Unmarshal(b, &rep))
		render(&rep, *outDir)
		return
	}

	names := strings.Split(*peersF, ",")
	if names[0] != "dygen" {
		log.Fatal("-peers: dygen must come first, it is the reference the others are checked against")
	}
	ns, err := ints(*nsF)
	if err != nil {
		log.Fatal("-n: ", err)
	}
	ths, err := ints(*thF)
	if err != nil {
		log.Fatal("-threads: ", err)
	}
	selected, err := selectLayers(*layersF)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range names {
		if _, ok := peerDesc[name]; !ok {
			log.Fatalf("-peers: unknown peer %q (%s)", name, strings.Join(defaultPeers, ", "))
		}
	}
	maxN := slices.Max(ns)

	// The machine and its single-core FMA peak.
	rep := &report{Started: start.Format(time.RFC3339), Machine: machine(), Rounds: *rounds, TargetMS: *targetMS, Seed: *seed, PeerOrder: names,
		Peers: map[string]string{}, RatioOfRecord: ratioOfRecordDesc}
	for _, name := range names {
		rep.Peers[name] = peerDesc[name]
	}
	rep.Machine["loadavg_at_start"] = loadavg()
	peakOut, err := exec.Command(*peakBin).Output()
	if err != nil {
		log.Fatalf("FMA peak: %s: %v (build it: gcc -O2 -mavx2 -mfma bench/peak/fma_peak.c -o %s, or run bench/run.sh)", *peakBin, err, *peakBin)
	}
	if err := json.Unmarshal(peakOut, &rep.Peak); err != nil {
		log.Fatalf("FMA peak: %v in %q", err, peakOut)
	}
	rep.PeakGF, _ = rep.Peak["gflops"].(float64)
	log.Printf("single-core AVX2 FMA peak: %.1f GFLOP/s", rep.PeakGF)
	if peak.AVX512.Available() {
		if g, err := peak.AVX512.Measure(); err == nil {
			rep.PeakAVX512 = g
			log.Printf("single-core AVX-512F FMA peak: %.1f GFLOP/s", g)
		}
	}

	// The peers.
	var peers []peer
	for _, name := range names {
		var p peer
		switch name {
		case "dygen", "dygen-avx2":
			p = dygenPeer(name)
		case "gonum":
			p = gonumPeer()
		case "onednn", "onednn-avx2", "onednn-kept", "onednn-kept-avx2":
			if _, err := os.Stat(*onednn); err != nil {
				log.Fatalf("oneDNN peer: %v: build bench/peers/onednn_dyconv.cpp (needs Debian's libdnnl-dev: apt-get install -y libdnnl-dev; bench/run.sh does both), or leave the peer out with -peers", err)
			}
			mode := "convert"
			if strings.HasPrefix(name, "onednn-kept") {
				mode = "kept"
			}
			pp, err := startProc(name, onednnEnv(os.Environ(), strings.HasSuffix(name, "-avx2")), *onednn, "-mode", mode)
			if err != nil {
				log.Fatalf("oneDNN peer: %v", err)
			}
			p = pp
		case "pytorch":
			if err := checkPython(*python); err != nil {
				log.Fatal(err)
			}
			pp, err := startProc(name, nil, *python, *script)
			if err != nil {
				log.Fatalf("PyTorch peer: %v", err)
			}
			p = pp
		}
		peers = append(peers, p)
	}
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()

	absData, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatal(err)
	}
	for _, li := range selected {
		l := &layers[li]
		d, err := genData(l, li, *seed, maxN, filepath.Join(absData, l.Name))
		if err != nil {
			log.Fatalf("%s: data: %v", l.Name, err)
		}
		for _, n := range ns {
			for _, t := range ths {
				cr := runConfig(l, d, n, t, peers, *rounds, *targetMS, *maxReps, *maxRel, rep.bestPeak())
				rep.Results = append(rep.Results, cr)
				var b strings.Builder
				for _, p := range peers {
					r := cr.Peers[p.Name()]
					if r.OK {
						fmt.Fprintf(&b, " %s %.3gms(%.0f%%)", p.Name(), r.MedianMS, r.PctPeak)
					} else {
						fmt.Fprintf(&b, " %s FAILED", p.Name())
					}
				}
				log.Printf("%-13s N=%d T=%d:%s", l.Name, n, t, b.String())
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.Machine["loadavg_at_end"] = loadavg()

	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep, "", " ")
	must(os.WriteFile(filepath.Join(*outDir, "results.json"), append(js, '\n'), 0o644))
	render(rep, *outDir)
	log.Printf("done in %.0f s; results in %s", rep.Seconds, *outDir)
}

// render writes table.md and one chart per thread count.
func render(rep *report, outDir string) {
	must(os.MkdirAll(outDir, 0o755))
	md := markdown(rep)
	must(os.WriteFile(filepath.Join(outDir, "table.md"), []byte(md), 0o644))
	var ns, ths []int
	for _, cr := range rep.Results {
		if !slices.Contains(ns, cr.N) {
			ns = append(ns, cr.N)
		}
		if !slices.Contains(ths, cr.Threads) {
			ths = append(ths, cr.Threads)
		}
	}
	for _, t := range ths {
		must(chart(rep, t, ns, filepath.Join(outDir, fmt.Sprintf("chart_t%d.png", t))))
	}
	fmt.Print(md)
}

// runConfig sets up every peer for (layer, n, threads), checks its output
// against dygen's, then runs the interleaved rounds.
func runConfig(l *suiteLayer, d *layerData, n, t int, peers []peer, rounds int, targetMS float64, maxReps int, maxRel, peak float64) *configResult {
	runtime.GOMAXPROCS(t)
	cr := &configResult{Layer: l.Name, Desc: l.Desc, Params: l.P, N: n, Threads: t, FLOPs: l.P.FLOPs(n), LoadAvg: loadavg(), Peers: map[string]*peerResult{}}
	var ref []float32
	var live []peer
	for _, p := range peers {
		r := &peerResult{}
		cr.Peers[p.Name()] = r
		out := filepath.Join(d.Dir, fmt.Sprintf("y_%s_n%d_t%d.f32", p.Name(), n, t))
		info, y, err := p.Setup(l, d, n, t, out)
		if err != nil {
			r.Error = err.Error()
			log.Printf("%s N=%d T=%d: %v", l.Name, n, t, err)
			continue
		}
		r.Info = info
		if ref == nil {
			if p.Name() != "dygen" {
				r.Error = "no dygen reference output"
				continue
			}
			ref = y
		}
		r.RelErr = relErr(y, ref)
		if !(r.RelErr <= maxRel) {
			r.Error = fmt.Sprintf("output differs from dygen's: max rel err %.3g > %.3g", r.RelErr, maxRel)
			log.Printf("%s N=%d T=%d: %s: %s", l.Name, n, t, p.Name(), r.Error)
			continue
		}
		first, _ := info["first_ms"].(float64)
		r.Reps = max(1, min(maxReps, int(math.Ceil(targetMS/max(first, 1e-3)))))
		live = append(live, p)
	}
	for round := 0; round < rounds; round++ {
		for _, p := range live {
			r := cr.Peers[p.Name()]
			if r.Error != "" {
				continue
			}
			ts, err := p.Time(r.Reps)
			if err != nil {
				r.Error = err.Error()
				continue
			}
			r.AllMS = append(r.AllMS, ts)
			r.RoundMedMS = append(r.RoundMedMS, median(ts))
		}
	}
	for _, r := range cr.Peers {
		if r.Error != "" || len(r.RoundMedMS) == 0 {
			continue
		}
		r.OK = true
		r.MedianMS = median(r.RoundMedMS)
		r.GFLOPS = cr.FLOPs / (r.MedianMS * 1e-3) / 1e9
		r.PctPeak = 100 * r.GFLOPS / peak
		r.PctPeakAllT = r.PctPeak / float64(t)
	}
	cr.Ratios = dygenOver(cr)
	return cr
}

// defaultPeers is every peer, in the default interleaving order.
var defaultPeers = []string{"dygen", "dygen-avx2", "onednn-kept", "onednn-kept-avx2", "onednn", "onednn-avx2", "pytorch", "gonum"}

// peerDesc says what each peer name stands for (results.json keeps it).
var peerDesc = map[string]string{
	"dygen":            "dygen's generated/suite, Forward as generated, NCHW in and out; AVX-512 micro-kernels where dyrt.AVX512 holds",
	"dygen-avx2":       "dygen's generated/suite pinned to its AVX2 micro-kernels (suite.SetAVX512(false), as GODEBUG=cpu.avx512f=off), NCHW in and out",
	"onednn-kept":      "oneDNN, layouts kept: input already in the convolution's source layout, output left in its destination layout, fusion straight into its weights layout (experts reordered at setup); ISA as oneDNN dispatches",
	"onednn-kept-avx2": "oneDNN, layouts kept, as onednn-kept; ISA capped with ONEDNN_MAX_CPU_ISA=AVX2 and DNNL_MAX_CPU_ISA=AVX2",
	"onednn":           "oneDNN, converting: NCHW in and out; fusion into a plain buffer, then reorders of the fused kernel, the input and the output inside the timed forward; ISA as oneDNN dispatches",
	"onednn-avx2":      "oneDNN, converting, as onednn; ISA capped with ONEDNN_MAX_CPU_ISA=AVX2 and DNNL_MAX_CPU_ISA=AVX2",
	"pytorch":          "PyTorch, the reference DyConv module, NCHW in and out",
	"gonum":            "im2col + gonum Sgemm in Go, NCHW in and out",
}

const ratioOfRecordDesc = "best_onednn_kept: dygen's GFLOP/s over the faster of onednn-kept and onednn-kept-avx2"

// onednnEnv is the environment of a oneDNN peer: env without any ISA cap,
// plus the AVX2 cap under both names oneDNN 2.6 reads (ONEDNN_MAX_CPU_ISA
// first, then DNNL_MAX_CPU_ISA) when capAVX2 is set.
func onednnEnv(env []string, capAVX2 bool) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ONEDNN_MAX_CPU_ISA=") && !strings.HasPrefix(kv, "DNNL_MAX_CPU_ISA=") {
			out = append(out, kv)
		}
	}
	if capAVX2 {
		out = append(out, "ONEDNN_MAX_CPU_ISA=AVX2", "DNNL_MAX_CPU_ISA=AVX2")
	}
	return out
}

// selectLayers returns the indices of the suite layers whose names match
// the regexp expr; an expr that does not compile or matches no layer is an
// error, the latter listing the layers.
func selectLayers(expr string) ([]int, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("-layers %q is not a valid regexp: %v", expr, err)
	}
	var idx []int
	var names []string
	for i, l := range layers {
		names = append(names, l.Name)
		if re.MatchString(l.Name) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("-layers %q matches no layer; the layers are: %s", expr, strings.Join(names, ", "))
	}
	return idx, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func ints(s string) ([]int, error) {
	var v []int
	for _, f := range strings.Split(s, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		v = append(v, i)
	}
	return v, nil
}

// machine records what the table's numbers depend on.
func machine() map[string]any {
	m := map[string]any{"go": runtime.Version(), "goarch": runtime.GOARCH, "num_cpu": runtime.NumCPU(), "build_tags": ""}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "model name":
				m["model"] = v
			case "cpu family":
				m["cpu_family"] = v
			case "model":
				m["cpu_model"] = v
			case "flags":
				fl := strings.Fields(v)
				var rel []string
				for _, f := range []string{"avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni"} {
					if slices.Contains(fl, f) {
						rel = append(rel, f)
					}
				}
				m["flags"] = strings.Join(rel, " ")
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, st := range bi.Settings {
			if st.Key == "-tags" {
				m["build_tags"] = st.Value
			}
		}
	}
	// The dygen source the driver was built from: the commit, and whether
	// generated/ differed from it (the harness imports the working tree).
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m["dygen_commit"] = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--", "../generated").Output(); err == nil {
			m["generated_dirty"] = len(bytes.TrimSpace(st)) > 0
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			for _, k := range []string{"Hypervisor vendor", "L2 cache", "L3 cache"} {
				if v, ok := strings.CutPrefix(line, k+":"); ok {
					m[k] = strings.TrimSpace(v)
				}
			}
		}
	}
	return m
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
