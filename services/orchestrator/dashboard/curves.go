package dashboard

import (
	"errors"
	"math"
	"sort"
)

// curvePoint is one point of a ROC or precision–recall curve.
type curvePoint struct{ X, Y float64 }

// binaryCurves holds the ROC and precision–recall curves of one class
// scored against the rest.
type binaryCurves struct {
	// ROC is (false positive rate, true positive rate), from (0,0) to (1,1).
	ROC []curvePoint
	// PR is (recall, precision), recall increasing.
	PR []curvePoint
	// AUC is the area under ROC (trapezoidal rule, ties counted half).
	AUC float64
	// AP is the average precision: Σ (Rₙ − Rₙ₋₁)·Pₙ over thresholds.
	AP float64
	// Prevalence is the share of positives, the precision of a random
	// classifier (the PR baseline).
	Prevalence float64
}

// rocPR computes the ROC and precision–recall curves of scores against
// the positive labels. It follows Fawcett, "An introduction to ROC
// analysis" (Pattern Recognition Letters 27, 2006), algorithm 2: sort by
// descending score and emit a point only when the score changes, so tied
// scores make one diagonal segment rather than an optimistic staircase.
// The area under ROC is integrated with the trapezoidal rule over those
// points; average precision follows the step-wise definition used by
// scikit-learn (no interpolation). NaN scores are skipped. Both classes
// must be present.
func rocPR(scores []float64, positive []bool) (*binaryCurves, error) {
	if len(scores) != len(positive) {
		return nil, errors.New("scores and labels differ in length")
	}
	idx := make([]int, 0, len(scores))
	var p, n int
	for i, s := range scores {
		if math.IsNaN(s) {
			continue
		}
		idx = append(idx, i)
		if positive[i] {
			p++
		} else {
			n++
		}
	}
	if p == 0 || n == 0 {
		return nil, errors.New("the curve needs both positive and negative rows")
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })

	out := &binaryCurves{
		ROC:        []curvePoint{{0, 0}},
		Prevalence: float64(p) / float64(p+n),
	}
	var tp, fp int
	prevRecall := 0.0
	for k, i := range idx {
		if positive[i] {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && scores[idx[k+1]] == scores[i] {
			continue // same threshold: emit once all ties are counted
		}
		fpr, tpr := float64(fp)/float64(n), float64(tp)/float64(p)
		last := out.ROC[len(out.ROC)-1]
		out.AUC += (fpr - last.X) * (tpr + last.Y) / 2
		out.ROC = append(out.ROC, curvePoint{fpr, tpr})

		precision := float64(tp) / float64(tp+fp)
		recall := tpr
		if len(out.PR) == 0 {
			// Start the curve at recall 0 with the first precision, as
			// plotted conventionally.
			out.PR = append(out.PR, curvePoint{0, precision})
		}
		out.AP += (recall - prevRecall) * precision
		prevRecall = recall
		out.PR = append(out.PR, curvePoint{recall, precision})
	}
	return out, nil
}

// thinCurve keeps at most max points of a monotone curve, always the first
// and the last, dropping points that move less than the step the budget
// allows. Curves from large test sets have one point per distinct score;
// a few hundred draw the same picture in a fraction of the SVG.
func thinCurve(pts []curvePoint, max int) []curvePoint {
	if max < 2 || len(pts) <= max {
		return pts
	}
	step := 1 / float64(max-1)
	out := []curvePoint{pts[0]}
	for _, q := range pts[1 : len(pts)-1] {
		last := out[len(out)-1]
		if math.Abs(q.X-last.X)+math.Abs(q.Y-last.Y) >= step {
			out = append(out, q)
		}
	}
	return append(out, pts[len(pts)-1])
}

// pearson returns the Pearson correlation of x and y over the rows where
// both are present (pairwise deletion of NaN), computed in two passes
// (means first, then centred sums) for numerical stability. It returns
// NaN when fewer than three pairs remain or either column is constant,
// since no correlation is defined then.
func pearson(x, y []float64) float64 {
	var mx, my float64
	n := 0
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		n++
		mx += (x[i] - mx) / float64(n)
		my += (y[i] - my) / float64(n)
	}
	if n < 3 {
		return math.NaN()
	}
	var sxy, sxx, syy float64
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r))
}

// sampleRows returns the row indexes to use from n rows when at most max
// are wanted: all of them, or every k-th row spread over the whole table
// (deterministic, so the same data always gives the same chart).
func sampleRows(n, max int) []int {
	if n <= 0 {
		return nil
	}
	if max <= 0 || n <= max {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, max)
	for i := range out {
		out[i] = int(int64(i) * int64(n) / int64(max))
	}
	return out
}
