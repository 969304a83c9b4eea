package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The chart theme. Text is Liberation Sans, which gonum/plot measures with
// its bundled copy; the SVG names it with Arial and sans-serif as
// fallbacks (Liberation Sans is metric-compatible with Arial), so labels
// fit without embedding any font file.
var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}

	inkColor   = color.RGBA{0x1f, 0x29, 0x37, 0xff}
	mutedColor = color.RGBA{0x4b, 0x55, 0x63, 0xff}
	axisColor  = color.RGBA{0x9c, 0xa3, 0xaf, 0xff}
	gridColor  = color.RGBA{0xe5, 0xe7, 0xeb, 0xff}
	naColor    = color.RGBA{0xd1, 0xd5, 0xdb, 0xff}

	// palette is Okabe and Ito's colour-blind-safe set ("Color Universal
	// Design", 2008), extended by two darker hues for up to ten series.
	palette = []color.RGBA{
		{0x00, 0x72, 0xb2, 0xff}, // blue
		{0xe6, 0x9f, 0x00, 0xff}, // orange
		{0x00, 0x9e, 0x73, 0xff}, // bluish green
		{0xd5, 0x5e, 0x00, 0xff}, // vermillion
		{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
		{0x56, 0xb4, 0xe9, 0xff}, // sky blue
		{0x88, 0x22, 0x55, 0xff}, // wine
		{0x44, 0x44, 0x44, 0xff}, // dark grey
		{0xf0, 0xe4, 0x42, 0xff}, // yellow
		{0x33, 0x22, 0x88, 0xff}, // indigo
	}
	primaryColor   = palette[0]
	highlightColor = palette[3]
)

// Font sizes in points.
const (
	titleSize = 11
	labelSize = 9.5
	tickSize  = 8.5
	noteSize  = 8
)

// seriesColor is the colour of the i-th series.
func seriesColor(i int) color.RGBA { return palette[i%len(palette)] }

// cssColor writes c as a CSS hex colour.
func cssColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}

// newPlot returns a plot in the dashboard's theme: sans-serif text, grey
// axes, ticks labelled for people, a light grid behind the data.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sansBold, titleSize)
	p.Title.TextStyle.Color = inkColor
	p.Title.Padding = vg.Points(8)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sans, labelSize)
		ax.Label.TextStyle.Color = inkColor
		ax.Label.Padding = vg.Points(4)
		ax.Tick.Label.Font = font.From(sans, tickSize)
		ax.Tick.Label.Color = mutedColor
		ax.LineStyle.Color = axisColor
		ax.Tick.LineStyle.Color = axisColor
		ax.Tick.Marker = humanTicks{}
		ax.Padding = vg.Points(3)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Legend.TextStyle.Font = font.From(sans, tickSize)
	p.Legend.TextStyle.Color = inkColor
	return p
}

// addGrid draws light grid lines behind the data; vertical and horizontal
// say which.
func addGrid(p *plot.Plot, vertical, horizontal bool) {
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.6), vg.Points(0.6)
	if !vertical {
		g.Vertical.Width = 0
	}
	if !horizontal {
		g.Horizontal.Width = 0
	}
	p.Add(g)
}

// textStyle is a text style for labels drawn inside the data area.
func textStyle(size float64, c color.Color, xAlign text.XAlignment, yAlign text.YAlignment) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(sans, vg.Length(size)),
		XAlign:  xAlign,
		YAlign:  yAlign,
		Handler: plot.DefaultTextHandler,
	}
}

// humanTicks places ticks like plot.DefaultTicks but labels them for
// people: "25k" and "1.5M" rather than "25000" and "1.5e+06", and no
// trailing zeros.
type humanTicks struct{}

func (humanTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []plot.Tick{{Value: lo, Label: tickLabel(lo)}}
	}
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if !ticks[i].IsMinor() {
			ticks[i].Label = tickLabel(ticks[i].Value)
		}
	}
	return ticks
}

// tickLabel writes an axis value compactly.
func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case a < 1e-12:
		return "0"
	case a >= 1e9:
		return trimZeros(strconv.FormatFloat(v/1e9, 'f', 1, 64)) + "B"
	case a >= 1e6:
		return trimZeros(strconv.FormatFloat(v/1e6, 'f', 1, 64)) + "M"
	case a >= 1e4:
		return trimZeros(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	case a < 1e-3:
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// chartSVG is one rendered chart ready to inline in a page.
type chartSVG = template.HTML

// widthRecorder is an SVG canvas that notes the width gonum/plot measured
// for every string it draws, in drawing order. vgsvg writes one <text>
// element per string, so the widths can be attached to those elements
// afterwards (see inlineSVG).
type widthRecorder struct {
	*vgsvg.Canvas
	widths []float64
}

// FillString implements vg.Canvas.
func (c *widthRecorder) FillString(f font.Face, pt vg.Point, s string) {
	c.widths = append(c.widths, f.Width(s).Points())
	c.Canvas.FillString(f, pt, s)
}

// renderSVG draws p on a w × h point canvas and returns the SVG element
// to inline in HTML: without the XML prologue, scalable (a viewBox and
// an intrinsic size in CSS pixels), marked with data-chart=name for tests
// and styling, and titled for screen readers. A panic inside gonum/plot
// (it panics on some degenerate data) becomes an error.
func renderSVG(p *plot.Plot, name string, w, h vg.Length) (out chartSVG, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("drawing the chart failed: %v", r)
		}
	}()
	c := &widthRecorder{Canvas: vgsvg.NewWith(vgsvg.UseWH(w, h))}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	return inlineSVG(buf.String(), name, p.Title.Text, w, h, c.widths)
}

// fontFallback is the font-family list written in place of the bare
// "Liberation Sans" that vgsvg names.
const fontFallback = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// inlineSVG rewrites a standalone SVG document from vgsvg into an element
// for an HTML page. widths, when given, are the measured widths of the
// document's <text> elements in order: each element gets them as its
// textLength, so that a label is exactly as wide as the layout assumed
// even where the browser substitutes a wider or narrower font for
// Liberation Sans. Without it a label could run into the bars next to it.
func inlineSVG(doc, name, title string, w, h vg.Length, widths []float64) (chartSVG, error) {
	start := strings.Index(doc, "<svg")
	if start < 0 {
		return "", errors.New("the chart renderer wrote no <svg> element")
	}
	end := strings.IndexByte(doc[start:], '>')
	if end < 0 {
		return "", errors.New("the chart renderer wrote a truncated <svg> element")
	}
	body := doc[start+end+1:]
	body = strings.ReplaceAll(body, "font-family:Liberation Sans;", fontFallback)
	var b strings.Builder
	b.Grow(len(body) + 512 + 48*len(widths))
	pw, ph := w.Points(), h.Points()
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 %s %s" width="%d" height="%d" class="chart" data-chart="%s" role="img" aria-label="%s">`,
		strconv.FormatFloat(pw, 'g', 6, 64), strconv.FormatFloat(ph, 'g', 6, 64),
		int(math.Round(pw*4/3)), int(math.Round(ph*4/3)),
		html.EscapeString(name), html.EscapeString(title))
	fmt.Fprintf(&b, "<title>%s</title>", html.EscapeString(title))
	const tag = "<text "
	if strings.Count(body, tag) != len(widths) {
		widths = nil // not the document the widths belong to; leave it as is
	}
	for _, wd := range widths {
		i := strings.Index(body, tag)
		b.WriteString(body[:i+len(tag)])
		if wd > 0 && !math.IsInf(wd, 0) && !math.IsNaN(wd) {
			fmt.Fprintf(&b, `textLength="%s" lengthAdjust="spacingAndGlyphs" `, strconv.FormatFloat(wd, 'f', 2, 64))
		}
		body = body[i+len(tag):]
	}
	b.WriteString(body)
	return chartSVG(b.String()), nil
}
