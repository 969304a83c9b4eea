package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// rowTicks marks the x axis at every row count plotted.
func rowTicks(lines map[string][2]plotter.XYs) plot.ConstantTicks {
	var xs []float64
	for _, l := range lines {
		for _, xy := range l[0] {
			if !slices.Contains(xs, xy.X) {
				xs = append(xs, xy.X)
			}
		}
	}
	slices.Sort(xs)
	var t plot.ConstantTicks
	for _, x := range xs {
		t = append(t, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
	}
	return t
}

// plotScale draws the scale curve to a PNG file at path: fit seconds and
// peak resident memory against training rows, both on log scales, one line
// per case and tool.
func plotScale(sc *Scale, path string) error {
	var order []string
	lines := map[string][2]plotter.XYs{}
	for _, pt := range sc.Points {
		if pt.Error != "" || !(pt.FitSeconds > 0) || pt.PeakBytes <= 0 {
			continue
		}
		k := pt.series()
		if _, ok := lines[k]; !ok {
			order = append(order, k)
		}
		l := lines[k]
		l[0] = append(l[0], plotter.XY{X: float64(pt.TrainRows), Y: pt.FitSeconds})
		l[1] = append(l[1], plotter.XY{X: float64(pt.TrainRows), Y: float64(pt.PeakBytes) / (1 << 20)})
		lines[k] = l
	}
	if len(order) == 0 {
		return fmt.Errorf("no point to plot")
	}
	titles := [2]string{"fit time", "peak resident memory"}
	ylabels := [2]string{"seconds", "MiB"}
	var plots [2]*plot.Plot
	for i := range plots {
		p := plot.New()
		p.Title.Text = titles[i]
		p.X.Label.Text = "training rows"
		p.Y.Label.Text = ylabels[i]
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = rowTicks(lines), plot.LogTicks{Prec: -1}
		p.Legend.Top, p.Legend.Left = false, false
		var args []any
		for _, k := range order {
			args = append(args, k, lines[k][i])
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return err
		}
		// Room under the lines for the legend, in the bottom right corner.
		lo := p.Y.Min
		p.Y.Min = lo / math.Pow(p.Y.Max/lo, 0.6) / 2
		plots[i] = p
	}
	img := vgimg.New(16*vg.Inch, 6*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{plots[0], plots[1]}}, tiles, dc)
	plots[0].Draw(canvases[0][0])
	plots[1].Draw(canvases[0][1])
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
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
