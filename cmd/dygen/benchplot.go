package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/peak"
)

// writeBenchPlot draws results as a grouped bar chart into the PNG file
// path: the layers along the x axis, a bar per batch size (and GOMAXPROCS)
// for each, each bar labelled with its percentage of its variant's peak,
// and as a dashed horizontal line the peak of each variant that ran, per
// GOMAXPROCS value.
func writeBenchPlot(path, title string, layers []gen.Layer, results []benchResult, peaks map[peak.Variant]float64) error {
	type series struct{ n, cpu int }
	var ss []series
	seen := map[series]bool{}
	cpus := map[int]bool{}
	ran := map[peak.Variant]bool{}
	for _, r := range results {
		ran[r.Variant] = true
		k := series{r.N, r.CPU}
		if !seen[k] {
			seen[k] = true
			ss = append(ss, k)
		}
		cpus[r.CPU] = true
	}
	multiCPU := len(cpus) > 1
	idx := map[string]int{}
	names := make([]string, len(layers))
	for i, l := range layers {
		idx[l.Name] = i
		names[i] = l.Name
	}

	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = "GFLOP/s (median; % of peak above the bars)"
	p.X.Label.Text = "layer"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())

	width := vg.Length(math.Max(6, 0.9*float64(len(layers))+2)) * vg.Inch
	perLayer := (width - vg.Inch) / vg.Length(len(layers))
	groupW := min(0.75*perLayer, vg.Points(28*float64(len(ss))))
	barW := groupW / vg.Length(len(ss))
	maxY := 0.0
	for si, s := range ss {
		vals := make(plotter.Values, len(layers))
		var labels []string
		var xys plotter.XYs
		for _, r := range results {
			i, ok := idx[r.Layer]
			if !ok || r.N != s.n || r.CPU != s.cpu {
				continue
			}
			vals[i] = r.GFLOPS
			maxY = math.Max(maxY, r.GFLOPS)
			if r.GFLOPS > 0 && r.PctPeak > 0 {
				xys = append(xys, plotter.XY{X: float64(i), Y: r.GFLOPS})
				label := fmt.Sprintf("%.0f%%", r.PctPeak)
				if r.PctPeak < 1 {
					label = "<1%"
				}
				labels = append(labels, label)
			}
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return err
		}
		off := barW*vg.Length(si) - groupW/2 + barW/2
		bars.Offset = off
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(si)
		p.Add(bars)
		name := fmt.Sprintf("N=%d", s.n)
		if multiCPU {
			name += fmt.Sprintf(", %d procs", s.cpu)
		}
		p.Legend.Add(name, bars)
		if len(xys) > 0 {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
			if err != nil {
				return err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(7)
				lb.TextStyle[i].XAlign = draw.XCenter
			}
			lb.Offset = vg.Point{X: off, Y: vg.Points(2)}
			p.Add(lb)
		}
	}

	// The peak lines: one per variant that ran (and AVX2's beside
	// AVX-512's) and GOMAXPROCS value.
	var cpuList []int
	for cpu := range cpus {
		cpuList = append(cpuList, cpu)
	}
	slices.Sort(cpuList)
	lineColors := []color.RGBA{{R: 200, A: 255}, {R: 120, G: 0, B: 120, A: 255}, {R: 0, G: 110, B: 0, A: 255}, {R: 180, G: 110, B: 0, A: 255}}
	nLines := 0
	for _, v := range peak.Variants {
		pk := peaks[v]
		if !(ran[v] || v == peak.AVX2FMA && ran[peak.AVX512]) || pk <= 0 {
			continue
		}
		for _, cpu := range cpuList {
			y := pk * float64(cpu)
			maxY = math.Max(maxY, y)
			line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y}, {X: float64(len(layers)) - 0.5, Y: y}})
			if err != nil {
				return err
			}
			line.LineStyle.Width = vg.Points(1.5)
			line.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			line.LineStyle.Color = lineColors[nLines%len(lineColors)]
			label := fmt.Sprintf("%s peak, 1 core (%.0f GFLOP/s)", v, pk)
			if cpu > 1 {
				label = fmt.Sprintf("%s peak × %d cores (%.0f GFLOP/s)", v, cpu, y)
			}
			p.Add(line)
			p.Legend.Add(label, line)
			nLines++
		}
	}
	// Room above the bars and the peak lines for the legend.
	p.Y.Max = maxY * (1.15 + 0.07*float64(len(ss)+nLines))
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(layers))-0.4
	if len(layers) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = text.XRight
		p.X.Tick.Label.YAlign = text.YCenter
	}
	return p.Save(width, 4.5*vg.Inch, path)
}
