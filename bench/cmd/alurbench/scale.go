package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/alur-ml/alur/bench/synth"
)

// Scale is the scale curve: every --scale-cases case fitted on generated
// files of every --scale row count, alur through a fresh train service
// process and each peer model in a fresh Python process, all with every
// core.
type Scale struct {
	Points []ScalePoint `json:"points"`
	// PNG is where the plot was written, "" when it was not.
	PNG string `json:"png,omitempty"`
	// Growth is alur's fit-time growth exponent per case between
	// consecutive sizes: log(t2/t1) / log(n2/n1); 1 is linear in rows.
	Growth []Growth `json:"growth,omitempty"`
}

// ScalePoint is one fit of the scale curve.
type ScalePoint struct {
	Rows      int    `json:"rows"`
	TrainRows int    `json:"train_rows"`
	Case      string `json:"case"`
	// Tool is "alur", "sklearn" or "xgboost"; Model the peer's model key.
	Tool  string `json:"tool"`
	Model string `json:"model,omitempty"`
	// TableBytes is the training matrix as float64.
	TableBytes int64   `json:"table_bytes"`
	FitSeconds float64 `json:"fit_seconds"`
	// BeforeBytes is the process's peak RSS before the fit (alur: the idle
	// train service; peers: the script with the data loaded and
	// prepared); PeakBytes its peak after the fit.
	BeforeBytes int64  `json:"before_peak_rss_bytes"`
	PeakBytes   int64  `json:"peak_rss_bytes"`
	Error       string `json:"error,omitempty"`
}

// Growth is one fit-time growth exponent of the scale curve.
type Growth struct {
	Case     string  `json:"case"`
	Tool     string  `json:"tool"`
	Model    string  `json:"model,omitempty"`
	From     int     `json:"from_rows"`
	To       int     `json:"to_rows"`
	Exponent float64 `json:"exponent"`
}

// series names a line of the scale curve: a case fitted by one tool.
func (p ScalePoint) series() string {
	if p.Tool == "alur" {
		return p.Case + ", alur"
	}
	return p.Case + ", " + p.Tool + " " + p.Model
}

// runScale measures the scale curve and draws it.
func runScale(ctx context.Context, dir string, o options, res *Results, lg *logger) error {
	if o.trainBin == "" {
		return fmt.Errorf("no --train-bin (scripts/bench.sh builds one)")
	}
	sc := &Scale{}
	res.Scale = sc
	all := runtime.NumCPU()
	for _, rows := range o.scaleRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("scale-%d.csv", rows))
		lg.logf("scale: generating %d rows × %d features", rows, o.features)
		if _, err := writeGenerated(path, synth.Config{Rows: rows, Features: o.features, Seed: o.seed}); err != nil {
			return err
		}
		so := o
		so.repeat, so.threads = 1, []int{all}
		d, err := loadAndPrepare(ctx, path, so, &Results{}, lg)
		if err != nil {
			return err
		}
		trainT, _ := d.preparedTables()
		n, p := d.xTrain.Dims()
		tableBytes := int64(n) * int64(p) * 8
		for _, bc := range o.scaleCases {
			pt := ScalePoint{Rows: rows, TrainRows: n, Case: bc.Key, Tool: "alur", TableBytes: tableBytes}
			m, why := memoryOf(ctx, bc, d, trainT, tableBytes, o, lg)
			switch {
			case why != "":
				pt.Error = why
			case m.Error != "":
				pt.Error = m.Error
			default:
				pt.FitSeconds, pt.BeforeBytes, pt.PeakBytes = m.FitSeconds, m.IdleBytes, m.PeakBytes
			}
			sc.Points = append(sc.Points, pt)
			if o.skipSklearn {
				continue
			}
			for _, model := range bc.ScalePeers {
				if err := ctx.Err(); err != nil {
					return err
				}
				lg.logf("scale: %s, peer model %s on %d rows", bc.Key, model, n)
				pp := ScalePoint{Rows: rows, TrainRows: n, Case: bc.Key, Tool: peerSklearn, Model: model, TableBytes: tableBytes}
				out, reason := runScript(ctx, path, o, sklearnArgs{models: []string{model}, threads: all, repeat: 1, peakMemory: true, skipLoad: true}, lg)
				switch {
				case out != nil && len(out.runs) == 1:
					r := out.runs[0]
					pp.Tool, pp.FitSeconds, pp.BeforeBytes, pp.PeakBytes = r.Peer, r.FitSeconds, r.PeakBefore, r.PeakAfter
				case reason != "":
					pp.Error = reason
				case out != nil && len(out.skipped) > 0:
					pp.Error = out.skipped[0]
				default:
					pp.Error = "no result"
				}
				if pp.Error == "" || !slices.ContainsFunc(sc.Points, func(q ScalePoint) bool { return q.Error == pp.Error }) {
					sc.Points = append(sc.Points, pp)
				}
			}
		}
		// The prepared data and file of one size are not needed by the next.
		d = nil
		freeMemory()
		_ = os.Remove(path)
	}
	sc.Growth = growth(sc.Points)
	if o.scalePNG != "" {
		if err := plotScale(sc, o.scalePNG); err != nil {
			res.note("scale curve plot: %v", err)
		} else {
			sc.PNG = o.scalePNG
			lg.logf("scale: plot written to %s", o.scalePNG)
		}
	}
	return nil
}

// growth returns the fit-time growth exponents of every series between
// its consecutive sizes.
func growth(points []ScalePoint) []Growth {
	var out []Growth
	last := map[string]ScalePoint{}
	for _, p := range points {
		if p.Error != "" || !(p.FitSeconds > 0) {
			continue
		}
		k := p.series()
		if q, ok := last[k]; ok && p.TrainRows > q.TrainRows {
			out = append(out, Growth{Case: p.Case, Tool: p.Tool, Model: p.Model, From: q.Rows, To: p.Rows,
				Exponent: math.Log(p.FitSeconds/q.FitSeconds) / math.Log(float64(p.TrainRows)/float64(q.TrainRows))})
		}
		last[k] = p
	}
	return out
}

// writeScale prints the scale curve's tables.
func writeScale(p *printer, r *Results) {
	sc := r.Scale
	p.f("\n## Scale curve (every core on both sides; alur through a fresh train service process, each peer model in a fresh Python process)\n\n")
	p.f("Before the fit: for alur the idle train service's peak RSS (the table not yet sent), so its peak includes receiving the table; for the peers the Python process's RSS with the data loaded and prepared, where its peak is reset (clear_refs), so the peak is the fit's and excludes reading the CSV.\n\n")
	p.f("| rows (train) | case | tool | fit s | peak RSS | RSS before the fit | peak ÷ float64 table | (peak − before) ÷ table |\n")
	p.f("|--:|---|---|--:|--:|--:|--:|--:|\n")
	for _, pt := range sc.Points {
		tool := pt.Tool
		if pt.Model != "" {
			tool += " (" + pt.Model + ")"
		}
		if pt.Error != "" {
			p.f("| %d (%d) | %s | %s | failed: %s | | | | |\n", pt.Rows, pt.TrainRows, pt.Case, tool, pt.Error)
			continue
		}
		p.f("| %d (%d) | %s | %s | %s | %s | %s | %.2f× | %.2f× |\n", pt.Rows, pt.TrainRows, pt.Case, tool, secs(pt.FitSeconds),
			mib(pt.PeakBytes), mib(pt.BeforeBytes), float64(pt.PeakBytes)/float64(pt.TableBytes),
			float64(pt.PeakBytes-pt.BeforeBytes)/float64(pt.TableBytes))
	}
	if len(sc.Growth) > 0 {
		p.f("\nFit-time growth exponents, log(t₂/t₁) ÷ log(n₂/n₁) (1 is linear in rows):")
		for _, g := range sc.Growth {
			name := g.Case + ", " + g.Tool
			if g.Model != "" {
				name += " " + g.Model
			}
			p.f(" %s %d→%d: %.2f;", name, g.From, g.To, g.Exponent)
		}
		p.f("\n")
	}
	if sc.PNG != "" {
		p.f("\nPlot: %s\n", sc.PNG)
	}
}
