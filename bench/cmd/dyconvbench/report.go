package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var peerLabel = map[string]string{
	"dygen":            "dygen",
	"dygen-avx2":       "dygen (AVX2 pinned)",
	"onednn-kept":      "oneDNN kept",
	"onednn-kept-avx2": "oneDNN kept (AVX2 cap)",
	"onednn":           "oneDNN converting",
	"onednn-avx2":      "oneDNN converting (AVX2 cap)",
	"pytorch":          "PyTorch",
	"gonum":            "im2col+gonum",
}

var peerColor = map[string]color.RGBA{
	"dygen":            {0xd6, 0x27, 0x28, 0xff},
	"dygen-avx2":       {0xff, 0x98, 0x96, 0xff},
	"onednn-kept":      {0x1f, 0x77, 0xb4, 0xff},
	"onednn-kept-avx2": {0x6b, 0xae, 0xd6, 0xff},
	"onednn":           {0x2c, 0xa0, 0x2c, 0xff},
	"onednn-avx2":      {0x98, 0xdf, 0x8a, 0xff},
	"pytorch":          {0xff, 0x7f, 0x0e, 0xff},
	"gonum":            {0x7f, 0x7f, 0x7f, 0xff},
}

func label(name string) string {
	if l, ok := peerLabel[name]; ok {
		return l
	}
	return name
}

// ratioColumns are the ratio columns of the tables: dygen's GFLOP/s over
// the faster of a group of peers. The first is the ratio of record.
var ratioColumns = []struct {
	key, label string
	peers      []string
	num        string // the numerator's peer ("": dygen)
}{
	{"best_onednn_kept", "dygen / best oneDNN, layouts kept (of record)", []string{"onednn-kept", "onednn-kept-avx2"}, ""},
	{"avx2_pinned", "dygen AVX2 / oneDNN AVX2, layouts kept", []string{"onednn-kept-avx2"}, "dygen-avx2"},
	{"best_onednn_converting", "dygen / best oneDNN, converting", []string{"onednn", "onednn-avx2"}, ""},
	{"gonum", "dygen / im2col+gonum", []string{"gonum"}, ""},
}

// dygenOver returns dygen's GFLOP/s over each peer's (keyed by the peer's
// name) and over the faster of each ratioColumns group (keyed by the
// group's key) whose peers ran in cr and all passed the check.
func dygenOver(cr *configResult) map[string]float64 {
	d := cr.Peers["dygen"]
	if d == nil || !d.OK {
		return nil
	}
	m := map[string]float64{}
	for name, r := range cr.Peers {
		if name != "dygen" && r.OK {
			m[name] = d.GFLOPS / r.GFLOPS
		}
	}
	for _, col := range ratioColumns {
		num := d
		if col.num != "" {
			if num = cr.Peers[col.num]; num == nil || !num.OK {
				continue
			}
		}
		best, ran, ok := 0.0, false, true
		for _, name := range col.peers {
			r := cr.Peers[name]
			if r == nil {
				continue
			}
			ran = true
			if !r.OK {
				ok = false
				break
			}
			best = max(best, r.GFLOPS)
		}
		if ran && ok {
			m[col.key] = num.GFLOPS / best
		}
	}
	return m
}

// markdown renders the report as the README's tables.
func markdown(rep *report) string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "# DyConv forward: dygen vs %s\n\n", strings.Join(mapLabels(rep.PeerOrder[1:]), ", "))
	hv := fmt.Sprint(m["Hypervisor vendor"])
	if m["Hypervisor vendor"] == nil || hv == "" {
		hv = "lscpu names no hypervisor"
	}
	fmt.Fprintf(&b, "- Machine: %v (family %v model %v, %v), %v CPUs, flags: %v; Go %v, %v.\n",
		m["model"], m["cpu_family"], m["cpu_model"], hv, m["num_cpu"], m["flags"], m["go"], m["kernel"])
	tags := fmt.Sprint(m["build_tags"])
	if tags == "" || tags == "<nil>" {
		tags = "none: the assembly backend (AVX-512 micro-kernels where the CPU has AVX-512F and dyrt.AVX512 holds, else AVX2+FMA)"
	}
	fmt.Fprintf(&b, "- dygen: generated/suite at commit %v (generated/ modified in the working tree at the time: %v), build tags: %s.\n", m["dygen_commit"], m["generated_dirty"], tags)
	fmt.Fprintf(&b, "- Shared machine: load average %v at the start, %v at the end (/proc/loadavg); the 2-thread rows suffer most from it.\n", m["loadavg_at_start"], m["loadavg_at_end"])
	fmt.Fprintf(&b, "- Single-core AVX2 FMA peak, measured (bench/peak/fma_peak.c, 12 accumulators): **%.1f GFLOP/s**.\n", rep.PeakGF)
	if rep.PeakAVX512 > 0 {
		fmt.Fprintf(&b, "- Single-core AVX-512F FMA peak, measured (internal/peak, 24 ZMM accumulators): **%.1f GFLOP/s**; the %% of peak below are of it.\n", rep.PeakAVX512)
	}
	fmt.Fprintf(&b, "- Run %s, %.0f s: %d interleaved rounds per configuration (peers in the order %s), each peer ≥ %.0f ms per round; time = median over rounds of each round's median.\n",
		rep.Started, rep.Seconds, rep.Rounds, strings.Join(mapLabels(rep.PeerOrder), " → "), rep.TargetMS)
	fmt.Fprintf(&b, "- GFLOP/s = 2·N·Cout·(Cin/groups)·KH·KW·Ho·Wo / time of the whole forward (pool + FC + softmax + fusion + conv).\n")
	hasKept := slices.Contains(rep.PeerOrder, "onednn-kept") || slices.Contains(rep.PeerOrder, "onednn-kept-avx2")
	hasConv := slices.Contains(rep.PeerOrder, "onednn") || slices.Contains(rep.PeerOrder, "onednn-avx2")
	if hasKept {
		b.WriteString("- **oneDNN kept** (the comparison of record) runs as a network that keeps oneDNN's layouts between layers: the input is already in the layout the convolution picked for its source (prepared from the NCHW data before timing), the output stays in its destination layout, and each sample's fusion writes the weighted sum of the K experts (reordered into the convolution's weights layout once, at setup) straight into its weights buffer; no reorder is timed. Its output is converted to NCHW after timing, for the check. **dygen / best oneDNN, layouts kept** is over the faster of its two builds.\n")
	}
	if hasConv {
		b.WriteString("- **oneDNN converting** takes and returns NCHW, as a caller with NCHW tensors runs it: fusion into a plain buffer, then the reorders of the fused kernel, the input and the output are timed with the convolution.\n")
	}
	b.WriteString("- dygen, PyTorch and im2col+gonum: NCHW in and out.\n")
	// Correctness and what each peer ran.
	fmt.Fprintf(&b, "- Outputs checked against dygen's on the same data before timing (max|y−y_dygen| / max|y_dygen|, worst over all configurations):")
	for _, name := range rep.PeerOrder[1:] {
		worst, failed := 0.0, 0
		for _, cr := range rep.Results {
			r := cr.Peers[name]
			if r == nil || !r.OK {
				failed++
				continue
			}
			worst = max(worst, r.RelErr)
		}
		fmt.Fprintf(&b, " %s %.1e", label(name), worst)
		if failed > 0 {
			fmt.Fprintf(&b, " (%d configurations failed, see below)", failed)
		}
		b.WriteString(";")
	}
	b.WriteString("\n")
	for _, name := range rep.PeerOrder[1:] {
		if !strings.HasPrefix(name, "onednn") {
			continue
		}
		impls, lays := map[string]int{}, map[string]int{}
		isa := ""
		for _, cr := range rep.Results {
			if r := cr.Peers[name]; r != nil && r.OK {
				impls[fmt.Sprint(r.Info["impl"])]++
				isa = fmt.Sprint(r.Info["isa"])
				if l := layouts(r); l != "" {
					lays[l]++
				}
			}
		}
		fmt.Fprintf(&b, "- %s: effective ISA %s; convolution implementations: %s", label(name), isa, countList(impls))
		if len(lays) > 0 {
			fmt.Fprintf(&b, "; layouts (source → destination, weights; oneDNN's notation, e.g. aBcd8b = nChw8c): %s", countList(lays))
		}
		b.WriteString(".\n")
	}
	b.WriteString("\n")

	threads := []int{}
	for _, cr := range rep.Results {
		if !slices.Contains(threads, cr.Threads) {
			threads = append(threads, cr.Threads)
		}
	}
	var cols []int // the ratioColumns shown
	for i, col := range ratioColumns {
		if col.num != "" && !slices.Contains(rep.PeerOrder, col.num) {
			continue
		}
		for _, name := range col.peers {
			if slices.Contains(rep.PeerOrder, name) {
				cols = append(cols, i)
				break
			}
		}
	}
	for _, t := range threads {
		if t == 1 {
			fmt.Fprintf(&b, "## 1 thread\n\nEach cell: time per forward · GFLOP/s · %% of the single-core FMA peak (of the faster ISA measured).\n\n")
		} else {
			fmt.Fprintf(&b, "## %d threads\n\nEach cell: time per forward · GFLOP/s · %% of %d× the single-core FMA peak. dygen's Forward as generated, run with GOMAXPROCS = %d (the generated package decides how it spreads the work).\n\n", t, t, t)
		}
		b.WriteString("| layer | N |")
		for _, name := range rep.PeerOrder {
			fmt.Fprintf(&b, " %s |", label(name))
		}
		for _, i := range cols {
			fmt.Fprintf(&b, " %s |", ratioColumns[i].label)
		}
		b.WriteString("\n| --- | --- |")
		for range len(rep.PeerOrder) + len(cols) {
			b.WriteString(" --- |")
		}
		b.WriteString("\n")
		logs := map[string][]float64{} // log ratios by dygenOver key
		for _, cr := range rep.Results {
			if cr.Threads != t {
				continue
			}
			fmt.Fprintf(&b, "| %s | %d |", cr.Desc, cr.N)
			for _, name := range rep.PeerOrder {
				r := cr.Peers[name]
				if r == nil || !r.OK {
					b.WriteString(" failed |")
					continue
				}
				fmt.Fprintf(&b, " %s ms · %.1f · %.0f%% |", ms(r.MedianMS), r.GFLOPS, r.PctPeakAllT)
			}
			over := dygenOver(cr)
			for k, x := range over {
				logs[k] = append(logs[k], math.Log(x))
			}
			for _, i := range cols {
				if x, ok := over[ratioColumns[i].key]; ok {
					fmt.Fprintf(&b, " %.2f× |", x)
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
		if len(cols) > 0 {
			b.WriteString("| geometric mean | |")
			for range rep.PeerOrder {
				b.WriteString(" |")
			}
			for _, i := range cols {
				fmt.Fprintf(&b, " %.2f× |", geomean(logs[ratioColumns[i].key]))
			}
			b.WriteString("\n")
		}
		var per []string
		for _, name := range rep.PeerOrder[1:] {
			if v, ok := logs[name]; ok {
				per = append(per, fmt.Sprintf("%s %.2f×", label(name), geomean(v)))
			}
		}
		if len(per) > 0 {
			fmt.Fprintf(&b, "\ndygen / each peer, geometric mean over the rows: %s.\n", strings.Join(per, ", "))
		}
		b.WriteString("\n")
	}

	// What each peer ran, and failures.
	b.WriteString("## Formulation each peer picked (the faster of its candidates, measured at setup)\n\n| layer | N | T |")
	for _, name := range rep.PeerOrder[1:] {
		fmt.Fprintf(&b, " %s |", label(name))
	}
	b.WriteString("\n| --- | --- | --- |")
	for range rep.PeerOrder[1:] {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, cr := range rep.Results {
		fmt.Fprintf(&b, "| %s | %d | %d |", cr.Layer, cr.N, cr.Threads)
		for _, name := range rep.PeerOrder[1:] {
			r := cr.Peers[name]
			switch {
			case r == nil:
				b.WriteString(" |")
			case !r.OK:
				fmt.Fprintf(&b, " failed: %s |", strings.ReplaceAll(r.Error, "|", "/"))
			default:
				s := fmt.Sprint(r.Info["formulation"])
				if impl, ok := r.Info["impl"]; ok {
					s += ", " + fmt.Sprint(impl)
				}
				if l := layouts(r); l != "" && r.Info["mode"] == "layouts-kept" {
					s += ", " + l
				}
				fmt.Fprintf(&b, " %s |", s)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// layouts describes the layouts a oneDNN peer's convolution picked, or "".
func layouts(r *peerResult) string {
	src, ok1 := r.Info["src_layout"]
	dst, ok2 := r.Info["dst_layout"]
	w, ok3 := r.Info["weights_layout"]
	if !ok1 || !ok2 || !ok3 {
		return ""
	}
	return fmt.Sprintf("%v → %v, %v", src, dst, w)
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func geomean(logs []float64) float64 {
	if len(logs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range logs {
		s += v
	}
	return math.Exp(s / float64(len(logs)))
}

func mapLabels(names []string) []string {
	var v []string
	for _, n := range names {
		v = append(v, label(n))
	}
	return v
}

func countList(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// chart draws, for one thread count, one panel per batch size: grouped
// bars per layer, GFLOP/s by peer, with the FMA peak as a dashed line.
func chart(rep *report, t int, ns []int, path string) error {
	var rows [][]*plot.Plot
	for _, n := range ns {
		var crs []*configResult
		for _, cr := range rep.Results {
			if cr.N == n && cr.Threads == t {
				crs = append(crs, cr)
			}
		}
		if len(crs) == 0 {
			continue
		}
		p := plot.New()
		thr := "1 thread"
		if t > 1 {
			thr = fmt.Sprintf("%d threads", t)
		}
		p.Title.Text = fmt.Sprintf("DyConv forward (pool+FC+softmax+fusion+conv), N=%d, %s — GFLOP/s, higher is better", n, thr)
		p.Title.TextStyle.Font.Size = 13
		p.Y.Label.Text = "GFLOP/s"
		p.Y.Min = 0
		peak := rep.PeakGF * float64(t)
		peak512 := rep.PeakAVX512 * float64(t)
		p.Y.Max = max(peak, peak512) * 1.3
		var names []string
		for _, cr := range crs {
			names = append(names, cr.Layer)
		}
		np := len(rep.PeerOrder)
		w := vg.Points(9)
		for i, name := range rep.PeerOrder {
			vals := make(plotter.Values, len(crs))
			for j, cr := range crs {
				if r := cr.Peers[name]; r != nil && r.OK {
					vals[j] = r.GFLOPS
				}
			}
			bc, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return err
			}
			bc.Offset = vg.Length(float64(i)-float64(np-1)/2) * w
			bc.Color = peerColor[name]
			bc.LineStyle.Width = 0
			p.Add(bc)
			p.Legend.Add(label(name), bc)
			// Value labels, so that the small depthwise bars stay readable.
			var xys plotter.XYLabels
			for j, v := range vals {
				if v == 0 {
					continue
				}
				xys.XYs = append(xys.XYs, plotter.XY{X: float64(j), Y: v})
				xys.Labels = append(xys.Labels, fmt.Sprintf("%.0f", v))
			}
			if len(xys.XYs) > 0 {
				lb, err := plotter.NewLabels(xys)
				if err != nil {
					return err
				}
				for k := range lb.TextStyle {
					lb.TextStyle[k].Font.Size = font.Length(6.5)
					lb.TextStyle[k].Rotation = math.Pi / 2
					lb.TextStyle[k].XAlign = draw.XLeft
					lb.TextStyle[k].YAlign = draw.YCenter
					lb.Offset = vg.Point{X: bc.Offset, Y: 2}
				}
				p.Add(lb)
			}
		}
		line := plotter.NewFunction(func(float64) float64 { return peak })
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		line.Width = vg.Points(1)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("AVX2 FMA peak, %d core(s): %.0f GFLOP/s", t, peak), line)
		if peak512 > 0 {
			line := plotter.NewFunction(func(float64) float64 { return peak512 })
			line.Dashes = []vg.Length{vg.Points(8), vg.Points(3)}
			line.Width = vg.Points(1.5)
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("AVX-512 FMA peak, %d core(s): %.0f GFLOP/s", t, peak512), line)
		}
		p.Legend.Top = true
		p.Legend.Left = true
		p.Legend.Padding = vg.Points(2)
		p.NominalX(names...)
		p.X.Tick.Label.Font.Size = 10
		rows = append(rows, []*plot.Plot{p})
	}
	if len(rows) == 0 {
		return nil
	}
	width, height := 34*vg.Centimeter, vg.Length(len(rows))*13*vg.Centimeter
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(rows), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(14)}
	canv := plot.Align(rows, tiles, dc)
	for i := range rows {
		rows[i][0].Draw(canv[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
