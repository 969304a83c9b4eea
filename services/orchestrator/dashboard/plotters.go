package dashboard

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// hbars draws horizontal bars from zero, the first value on top, each
// with its value written at its end. Rows sit at y = n-1-i so that
// plot.NominalY with the labels reversed names them.
type hbars struct {
	Values []float64
	Colors []color.Color // per bar; nil entries use primaryColor
	Notes  []string      // written at the end of each bar
}

func (b *hbars) color(i int) color.Color {
	if i < len(b.Colors) && b.Colors[i] != nil {
		return b.Colors[i]
	}
	return primaryColor
}

// Plot implements plot.Plotter.
func (b *hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(b.Values)
	note := textStyle(noteSize, mutedColor, text.XLeft, text.YCenter)
	for i, v := range b.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		y := float64(n - 1 - i)
		x0, x1 := trX(0), trX(v)
		y0, y1 := trY(y-0.36), trY(y+0.36)
		if x1-x0 < 0.8 && x1-x0 > -0.8 {
			x1 = x0 + 0.8 // a zero bar still shows where it is
		}
		c.FillPolygon(b.color(i), []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		if i < len(b.Notes) && b.Notes[i] != "" {
			st := note
			pt := vg.Point{X: x1 + 3, Y: trY(y)}
			if v < 0 {
				st.XAlign = text.XRight
				pt.X = x1 - 3
			}
			c.FillText(st, pt, b.Notes[i])
		}
	}
}

// DataRange implements plot.DataRanger, leaving room right of the longest
// bar for its note.
func (b *hbars) DataRange() (xmin, xmax, ymin, ymax float64) {
	for _, v := range b.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
	}
	span := xmax - xmin
	if span == 0 {
		span = 1
	}
	if len(b.Notes) > 0 {
		xmax += span * 0.2
		if xmin < 0 {
			xmin -= span * 0.2
		}
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	return xmin, xmax, -0.5, float64(len(b.Values)) - 0.5
}

// gantt draws one horizontal bar per row from Start to End (seconds), the
// first row on top; zero-length bars (cache hits) show as a thin mark.
type gantt struct {
	Start, End []float64
	Colors     []color.Color
}

// Plot implements plot.Plotter.
func (g *gantt) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(g.Start)
	for i := range g.Start {
		y := float64(n - 1 - i)
		x0, x1 := trX(g.Start[i]), trX(g.End[i])
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		y0, y1 := trY(y-0.34), trY(y+0.34)
		c.FillPolygon(g.Colors[i], []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
	}
}

// DataRange implements plot.DataRanger.
func (g *gantt) DataRange() (xmin, xmax, ymin, ymax float64) {
	for i := range g.Start {
		xmax = math.Max(xmax, g.End[i])
	}
	if xmax <= 0 {
		xmax = 1
	}
	return 0, xmax, -0.5, float64(len(g.Start)) - 0.5
}

// matrix draws a grid of coloured cells, row 0 on top, each optionally
// annotated with text that stays readable on dark cells.
type matrix struct {
	Rows, Cols int
	Color      func(r, c int) color.Color
	Note       func(r, c int) string // "" for none
	NoteSize   float64
}

// Plot implements plot.Plotter.
func (m *matrix) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for r := range m.Rows {
		y := float64(m.Rows - 1 - r)
		for k := range m.Cols {
			x := float64(k)
			fill := m.Color(r, k)
			x0, x1 := trX(x-0.5), trX(x+0.5)
			y0, y1 := trY(y-0.5), trY(y+0.5)
			c.FillPolygon(fill, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(1)},
				[]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
			if m.Note == nil {
				continue
			}
			if s := m.Note(r, k); s != "" {
				ink := inkColor
				if luminance(fill) < 0.45 {
					ink = color.RGBA{0xff, 0xff, 0xff, 0xff}
				}
				c.FillText(textStyle(m.NoteSize, ink, text.XCenter, text.YCenter), vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, s)
			}
		}
	}
}

// DataRange implements plot.DataRanger.
func (m *matrix) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(m.Cols) - 0.5, -0.5, float64(m.Rows) - 0.5
}

// luminance is the relative luminance of c in [0, 1] (ITU-R BT.709
// weights on the gamma-encoded channels, close enough to pick a text
// colour).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// mix blends a into b: t = 0 gives a, t = 1 gives b.
func mix(a, b color.RGBA, t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t))
	l := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + (float64(y)-float64(x))*t)) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 0xff}
}

// Colour scales for the heatmaps.
var (
	white    = color.RGBA{0xff, 0xff, 0xff, 0xff}
	seqLight = color.RGBA{0xef, 0xf6, 0xfc, 0xff}
	seqDark  = color.RGBA{0x08, 0x30, 0x6b, 0xff}
	divNeg   = color.RGBA{0x21, 0x66, 0xac, 0xff}
	divPos   = color.RGBA{0xb2, 0x18, 0x2b, 0xff}
)

// sequential maps t in [0, 1] from near-white to dark blue.
func sequential(t float64) color.RGBA { return mix(seqLight, seqDark, t) }

// diverging maps r in [-1, 1] from blue through white to red; NaN is grey.
func diverging(r float64) color.RGBA {
	switch {
	case math.IsNaN(r):
		return naColor
	case r < 0:
		return mix(white, divNeg, -r)
	}
	return mix(white, divPos, r)
}
