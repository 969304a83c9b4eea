package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// writeText prints the report as Markdown tables, readable in a terminal
// and ready to paste into an issue.
func writeText(w io.Writer, r *Results) error {
	p := &printer{w: w}
	d := r.Data
	p.f("# alur vs scikit-learn and XGBoost, equal threads: %d rows × %d columns\n\n", d.Rows, d.Columns)
	p.f("- machine: %s\n", machineLine(r))
	p.f("- data: %s\n", d.Source)
	p.f("- file: %.1f MB; %d train / %d test rows (split column, stratified); %d prepared features; %d classes\n",
		float64(d.Bytes)/1e6, d.TrainRows, d.TestRows, d.Features, len(d.Classes))
	p.f("- timings: wall clock, best of %d run(s), of %d for a figure whose first run took under 2 s; ratios are alur ÷ peer (below 1: alur is faster)\n", r.Repeat, max(r.Repeat, r.RepeatSmall))
	p.f("- threads: every row runs both sides with the same number of threads (alur: GOMAXPROCS; scikit-learn: n_jobs and OMP/BLAS threads; XGBoost: nthread); the verdict counts these equal-thread rows only\n")
	if r.OMPPassive {
		p.f("- the peers' OpenMP threads waited passively (OMP_WAIT_POLICY=PASSIVE): on a loaded machine spinning threads fight the other work for the cores\n")
	}
	if !r.Sklearn.Available {
		p.f("- peers: not run: %s\n", r.Sklearn.Reason)
	} else if r.Sklearn.Reason != "" {
		p.f("- peers: incomplete: %s\n", r.Sklearn.Reason)
	}

	p.f("\n## Fit, predict and accuracy at equal threads (in process, same rows and split)\n\n")
	p.f("| case | threads | peer | alur fit s | peer fit s | ratio (target) | alur predict s | peer predict s | ratio (target) | alur acc | peer acc | diff points (target) |\n")
	p.f("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	passed, total := 0, 0
	for _, bcKey := range caseOrder(r) {
		shown := false
		for _, c := range r.Comparison {
			if c.Case != bcKey {
				continue
			}
			shown = true
			p.f("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.4f | %.4f | %s |\n", c.Label, threadsLabel(c.Threads, r.Machine.CPUs),
				c.Peer, secs(c.AlurFit), secs(c.PeerFit), target(c.FitRatio, c.FitTarget, "≤", c.FitPass),
				secs(c.AlurPredict), secs(c.PeerPredict), target(c.PredictRatio, c.PredictTarget, "≤", c.PredictPass),
				c.AlurAcc, c.PeerAcc, mark(fmt.Sprintf("%+.2f (≥ %+.1f)", c.AccDiffPoints, c.AccTargetPoint), c.AccPass))
			for _, ok := range []*bool{c.FitPass, c.PredictPass, c.AccPass} {
				if ok != nil {
					total++
					if *ok {
						passed++
					}
				}
			}
		}
		if shown {
			continue
		}
		for _, a := range r.Alur {
			if a.Case != bcKey {
				continue
			}
			if a.Skipped != "" {
				p.f("| %s | | | skipped: %s | | | | | | | | |\n", a.Case, a.Skipped)
				break
			}
			p.f("| %s | %d | — | %s | — | | %s | — | | %.4f | — | |\n", a.Case, a.Threads, secs(a.FitSeconds), secs(a.PredictSeconds), a.Accuracy)
		}
	}
	p.f("\nTargets per row in brackets.")
	if total > 0 {
		p.f(" %d of %d PASS.", passed, total)
	}
	p.f("\n")

	p.f("\n## CSV load and preparation\n\n")
	p.f("| step | alur | pandas / scikit-learn | ratio |\n|---|--:|--:|--:|\n")
	for _, l := range r.Load.Alur {
		load, loadRatio := "—", ""
		if l.Threads == 1 && r.Load.PandasSeconds > 0 {
			load = fmt.Sprintf("%s s, %.1f MB/s (one core)", secs(r.Load.PandasSeconds), r.Load.PandasMBps)
			loadRatio = fmt.Sprintf("%.2f× pandas' MB/s, 1 vs 1", r.Load.Ratio)
		} else if l.Threads != 1 {
			load = "(reported apart: pandas parses on one core)"
		}
		p.f("| CSV load, csvio.Read on %d thread(s) / pandas.read_csv | %s s, %.1f MB/s | %s | %s |\n", l.Threads, secs(l.Seconds), l.MBps, load, loadRatio)
	}
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
		p.f("| case | Train RPC s | of which fit s | in-process fit s | model MB | Evaluate RPC s | in-process predict s | accuracy |\n")
		p.f("|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, a := range s.Algorithms {
			if a.Error != "" {
				p.f("| %s | failed: %s | | | | | | |\n", a.Case, a.Error)
				continue
			}
			var inFit, inPredict float64
			for _, x := range r.Alur {
				if x.Case == a.Case && x.Threads == r.Machine.CPUs {
					inFit, inPredict = x.FitSeconds, x.PredictSeconds
				}
			}
			p.f("| %s | %s | %s | %s | %.2f | %s | %s | %.4f |\n", a.Case, secs(a.TrainSeconds), secs(a.ServerFitSeconds),
				secs(inFit), float64(a.ModelBytes)/1e6, secs(a.EvaluateSeconds), secs(inPredict), a.Accuracy)
		}
	}

	if len(r.Memory) > 0 {
		p.f("\n## Train service peak memory (the train binary as a separate process; VmHWM after training)\n\n")
		p.f("| case | train table as float64 | peak RSS before the call | peak RSS after training | ratio | target ≤ %.0f× | (peak − before) ÷ table |\n", targetMemRatio)
		p.f("|---|--:|--:|--:|--:|---|--:|\n")
		for _, m := range r.Memory {
			if m.Error != "" {
				p.f("| %s | %s | failed: %s | | | | |\n", m.Case, mib(m.TableBytes), m.Error)
				continue
			}
			p.f("| %s | %s | %s | %s | %.2f× | %s | %.2f× |\n", m.Case, mib(m.TableBytes), mib(m.IdleBytes), mib(m.PeakBytes),
				m.Ratio, passWord(m.Pass), float64(m.PeakBytes-m.IdleBytes)/float64(m.TableBytes))
		}
	}

	if r.Scale != nil {
		writeScale(p, r)
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
		if v["xgboost"] != "" {
			fmt.Fprintf(&b, ", XGBoost %s", v["xgboost"])
		}
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

// caseOrder lists the cases of the run's alur side in report order.
func caseOrder(r *Results) []string {
	var out []string
	for _, a := range r.Alur {
		if !slices.Contains(out, a.Case) {
			out = append(out, a.Case)
		}
	}
	return out
}

// target formats a ratio with its target and mark, or the ratio alone
// where the time has no target.
func target(v, max float64, op string, ok *bool) string {
	s := fmt.Sprintf("%.2f", v)
	if max > 0 {
		s += fmt.Sprintf(" (%s %.1f)", op, max)
	}
	return mark(s, ok)
}

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
