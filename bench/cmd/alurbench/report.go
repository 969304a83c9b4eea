package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// writeText prints the report as Markdown tables, readable in a terminal
// and ready to paste into an issue.
func writeText(w io.Writer, r *Results) error {
	p := &printer{w: w}
	d := r.Data
	p.f("# alur vs scikit-learn: %d rows × %d columns\n\n", d.Rows, d.Columns)
	p.f("- machine: %s\n", machineLine(r))
	p.f("- data: %s\n", d.Source)
	p.f("- file: %.1f MB; %d train / %d test rows (split column, stratified); %d prepared features; %d classes\n",
		float64(d.Bytes)/1e6, d.TrainRows, d.TestRows, d.Features, len(d.Classes))
	p.f("- timings: wall clock, best of %d run(s); ratios are alur ÷ scikit-learn (below 1: alur is faster)\n", r.Repeat)
	if !r.Sklearn.Available {
		p.f("- scikit-learn: not run: %s\n", r.Sklearn.Reason)
	} else if r.Sklearn.Reason != "" {
		p.f("- scikit-learn: incomplete: %s\n", r.Sklearn.Reason)
	}

	p.f("\n## Fit, predict and accuracy (in process, same rows and split)\n\n")
	p.f("| algorithm | alur fit s | sklearn fit s | ratio | alur predict s | sklearn predict s | ratio | alur acc | sklearn acc | diff (points) |\n")
	p.f("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	passed, total := 0, 0
	for _, a := range r.Alur {
		if a.Skipped != "" {
			p.f("| %s | skipped: %s | | | | | | | | |\n", a.Name, a.Skipped)
			continue
		}
		rows := 0
		for _, c := range r.Comparison {
			if c.Name != a.Name {
				continue
			}
			rows++
			name := c.Name
			if c.Variant != "" {
				name += " (sklearn " + c.Variant + ")"
			}
			p.f("| %s | %s | %s | %s | %s | %s | %s | %.4f | %.4f | %s |\n", name,
				secs(c.AlurFit), secs(c.SklearnFit), mark(fmt.Sprintf("%.2f", c.FitRatio), c.FitPass),
				secs(c.AlurPredict), secs(c.SklearnPredict), mark(fmt.Sprintf("%.2f", c.PredictRatio), c.PredictPass),
				c.AlurAcc, c.SklearnAcc, mark(fmt.Sprintf("%+.2f", c.AccDiffPoints), c.AccPass))
			for _, ok := range []*bool{c.FitPass, c.PredictPass, c.AccPass} {
				if ok != nil {
					total++
					if *ok {
						passed++
					}
				}
			}
		}
		if rows == 0 {
			p.f("| %s | %s | — | | %s | — | | %.4f | — | |\n", a.Name, secs(a.FitSeconds), secs(a.PredictSeconds), a.Accuracy)
		}
	}
	p.f("\nTargets: fit ratio ≤ %.2f; predict ratio ≤ %.2f for random_forest and knn; accuracy diff ≥ %.2f points.",
		targetFitRatio, targetPredictRatio, targetAccDiffPoints)
	if total > 0 {
		p.f(" %d of %d PASS.", passed, total)
	}
	p.f("\n")

	p.f("\n## CSV load and preparation\n\n")
	p.f("| step | alur | pandas / scikit-learn | ratio |\n|---|--:|--:|--:|\n")
	load := "—"
	loadRatio := ""
	if r.Load.PandasSeconds > 0 {
		load = fmt.Sprintf("%s s, %.1f MB/s", secs(r.Load.PandasSeconds), r.Load.PandasMBps)
		loadRatio = fmt.Sprintf("%.2f× pandas' MB/s", r.Load.Ratio)
	}
	p.f("| CSV load (csvio.Read / pandas.read_csv) | %s s, %.1f MB/s | %s | %s |\n", secs(r.Load.AlurSeconds), r.Load.AlurMBps, load, loadRatio)
	prepS, prepRatio := "—", ""
	if r.Prepare.SklearnSeconds > 0 {
		prepS = secs(r.Prepare.SklearnSeconds) + " s"
		prepRatio = fmt.Sprintf("%.2f (time)", ratio(r.Prepare.AlurSeconds, r.Prepare.SklearnSeconds))
	}
	p.f("| prepare: impute + scale, fit on train, apply to both | %s s | %s | %s |\n", secs(r.Prepare.AlurSeconds), prepS, prepRatio)

	if s := r.Services; s != nil {
		p.f("\n## Through the gRPC services (four stage services on loopback TCP)\n\n")
		p.f("IngestService.Read of the CSV: %s s. PrepService.Prepare of the table (split, fit, apply, stream back): %s s.\n\n",
			secs(s.IngestSeconds), secs(s.PrepareSeconds))
		p.f("| algorithm | Train RPC s | of which fit s | in-process fit s | model MB | Evaluate RPC s | in-process predict s | accuracy |\n")
		p.f("|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, a := range s.Algorithms {
			if a.Error != "" {
				p.f("| %s | failed: %s | | | | | | |\n", a.Name, a.Error)
				continue
			}
			var inFit, inPredict float64
			for _, x := range r.Alur {
				if x.Name == a.Name {
					inFit, inPredict = x.FitSeconds, x.PredictSeconds
				}
			}
			p.f("| %s | %s | %s | %s | %.2f | %s | %s | %.4f |\n", a.Name, secs(a.TrainSeconds), secs(a.ServerFitSeconds),
				secs(inFit), float64(a.ModelBytes)/1e6, secs(a.EvaluateSeconds), secs(inPredict), a.Accuracy)
		}
	}

	if len(r.Memory) > 0 {
		p.f("\n## Train service peak memory (the train binary as a separate process; VmHWM after training)\n\n")
		p.f("| algorithm | train table as float64 | peak RSS before the call | peak RSS after training | ratio | target ≤ %.0f× | (peak − before) ÷ table |\n", targetMemRatio)
		p.f("|---|--:|--:|--:|--:|---|--:|\n")
		for _, m := range r.Memory {
			if m.Error != "" {
				p.f("| %s | %s | failed: %s | | | | |\n", m.Algorithm, mib(m.TableBytes), m.Error)
				continue
			}
			p.f("| %s | %s | %s | %s | %.2f× | %s | %.2f× |\n", m.Algorithm, mib(m.TableBytes), mib(m.IdleBytes), mib(m.PeakBytes),
				m.Ratio, passWord(m.Pass), float64(m.PeakBytes-m.IdleBytes)/float64(m.TableBytes))
		}
	}

	if len(r.Notes) > 0 {
		p.f("\n## Notes\n\n")
		for _, n := range r.Notes {
			p.f("- %s\n", n)
		}
	}
	return p.err
}

// machineLine describes the machine and the library versions.
func machineLine(r *Results) string {
	m := r.Machine
	var b strings.Builder
	if m.CPUModel != "" {
		b.WriteString(m.CPUModel + ", ")
	}
	fmt.Fprintf(&b, "%d CPUs (GOMAXPROCS %d), %s %s", m.CPUs, m.GOMAXPROCS, m.GoVersion, m.OS)
	if v := r.Sklearn.Versions; v != nil {
		fmt.Fprintf(&b, "; scikit-learn %s, pandas %s, numpy %s, Python %s", v["sklearn"], v["pandas"], v["numpy"], v["python"])
	}
	if m.LoadStart != "" {
		fmt.Fprintf(&b, "; load average %s at the start, %s at the end", m.LoadStart, m.LoadEnd)
	}
	fmt.Fprintf(&b, "; %s", m.Date)
	return b.String()
}

// secs formats seconds with three significant digits (at most six
// decimals), so that a 2 ms prediction does not print as 0.000.
func secs(s float64) string {
	if !(s > 0) {
		return "0"
	}
	decimals := min(max(2-int(math.Floor(math.Log10(s))), 0), 6)
	return strconv.FormatFloat(s, 'f', decimals, 64)
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// mark appends PASS or MISS when a target applies.
func mark(s string, ok *bool) string {
	if ok == nil {
		return s
	}
	return s + " " + passWord(*ok)
}

func passWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// printer writes formatted text and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
