// Package profile describes a table before it is prepared: per-column
// statistics (counts, moments, quantiles, histograms, frequent categories),
// duplicate rows, and findings that say in plain words what needs attention
// and which preparation would fix it. Its numbers follow numpy's
// conventions (linear-interpolation quantiles, numpy.histogram bins, sample
// standard deviation) so that they can be checked against a notebook.
package profile

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// Option defaults and bounds.
const (
	// DefaultHistogramBins is used when histogram_bins is 0.
	DefaultHistogramBins = 20
	// MaxHistogramBins bounds histogram_bins.
	MaxHistogramBins = 1000
	// DefaultTopCategories is used when top_categories is 0.
	DefaultTopCategories = 10
	// MaxTopCategories bounds top_categories.
	MaxTopCategories = 1000
)

// Thresholds of the findings.
const (
	// highMissing is the missing share above which a column is flagged.
	highMissing = 0.30
	// idLikeMinRows is the number of present values above which an
	// all-distinct column is taken for an identifier.
	idLikeMinRows = 20
	// imbalanceRatio is the minority/majority class ratio below which a
	// label is imbalanced.
	imbalanceRatio = 0.2
	// highCardinalityDistinct and highCardinalityShare flag categorical
	// columns with many values, most of them rare.
	highCardinalityDistinct = 50
	highCardinalityShare    = 0.5
	// innerFence and outerFence are the multiples of the interquartile
	// range beyond the quartiles where a value is an outlier and a "far
	// out" value (Tukey's fences, Exploratory Data Analysis, 1977).
	innerFence = 1.5
	outerFence = 3
	// heavyTailShare is the share of values beyond the inner fences above
	// which a column without far-out values is still reported: a normal
	// distribution has 0.7 % there.
	heavyTailShare = 0.02
	// farOutWarnShare is the share of far-out values from which the outlier
	// finding is a warning rather than information.
	farOutWarnShare = 0.005
	// logSkew is the skewness above which a column of values ≥ 0 is offered
	// a log transform; skewLimit is the |skewness| above which any column
	// is called skewed.
	logSkew   = 1
	skewLimit = 2
	// moderateImbalance is the minority/majority class ratio below which
	// imbalance is worth knowing; imbalanceRatio makes it a warning.
	moderateImbalance = 0.5
)

// Quantiles are the probabilities every numeric column reports.
var Quantiles = []float64{0.05, 0.25, 0.5, 0.75, 0.95}

// OptionError names the ProfileOptions field at fault and says why.
type OptionError struct {
	Field  string
	Reason string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Reason }

// ValidateOptions checks ProfileOptions; nil options are valid (defaults).
func ValidateOptions(o *prepv1.ProfileOptions) error {
	if b := o.GetHistogramBins(); b < 0 || b > MaxHistogramBins {
		return &OptionError{"options.histogram_bins", fmt.Sprintf("%d is outside [0, %d]", b, MaxHistogramBins)}
	}
	if k := o.GetTopCategories(); k < 0 || k > MaxTopCategories {
		return &OptionError{"options.top_categories", fmt.Sprintf("%d is outside [0, %d]", k, MaxTopCategories)}
	}
	return nil
}

// Profile describes t: every column in schema order, the number of
// duplicate rows, the correlation matrix of the numeric columns, and
// findings sorted by severity (most severe first), then column, then code.
//
// The findings, each with a machine-usable fix where a preparation option
// applies (see findings.go for the methods and thresholds): missing values
// and columns missing together or depending on the label, constant and
// id-like columns, high cardinality, categorical columns that are mostly
// numbers (mixed types), outliers by Tukey's fences, skewness, infinite
// values, near-duplicate columns, features that leak the label, class
// imbalance and duplicate rows.
func Profile(t *table.Table, opts *prepv1.ProfileOptions) (*datav1.DataProfile, error) {
	return ProfileContext(context.Background(), t, opts)
}

// ProfileContext is Profile that stops soon after ctx is done, returning
// ctx's error: every loop whose work grows with the rows, the columns or
// the classes checks it. Its work is bounded by the caps documented on
// MaxCorrelationColumns, MaxCorrelationRows, MaxLeakClasses and the
// leakage sample, so it is O(rows·log rows) per column plus bounded
// pairwise terms.
func ProfileContext(ctx context.Context, t *table.Table, opts *prepv1.ProfileOptions) (*datav1.DataProfile, error) {
	p, _, err := profile(&work{ctx: ctx}, t, opts)
	return p, err
}

// work carries a profile's context and counts its steps (about one per
// value touched), so that every long loop stops soon after the context is
// done, and tests can bound the work without timing it.
type work struct {
	ctx   context.Context
	steps int64
}

// step counts n steps and returns the context's error, if any.
func (w *work) step(n int) error {
	w.steps += int64(n)
	return w.ctx.Err()
}

// profile is ProfileContext counting its work in w; it returns w's count.
func profile(w *work, t *table.Table, opts *prepv1.ProfileOptions) (*datav1.DataProfile, int64, error) {
	p, err := profileWork(w, t, opts)
	return p, w.steps, err
}

func profileWork(w *work, t *table.Table, opts *prepv1.ProfileOptions) (*datav1.DataProfile, error) {
	if err := ValidateOptions(opts); err != nil {
		return nil, err
	}
	if t == nil {
		t = &table.Table{}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	bins := int(opts.GetHistogramBins())
	if bins == 0 {
		bins = DefaultHistogramBins
	}
	top := int(opts.GetTopCategories())
	if top == 0 {
		top = DefaultTopCategories
	}
	p := &datav1.DataProfile{RowCount: int64(t.NumRows()), Label: opts.GetLabel()}
	var findings []*datav1.Finding
	for _, c := range t.Columns {
		if err := w.step(t.NumRows()); err != nil {
			return nil, err
		}
		cp, fs := profileColumn(c, t.NumRows(), bins, top, c.Name == opts.GetLabel())
		p.Columns = append(p.Columns, cp)
		findings = append(findings, fs...)
	}
	var err error
	if p.Correlation, err = correlationMatrix(w, t); err != nil {
		return nil, err
	}
	if err := w.step(MaxCorrelationColumns * MaxCorrelationColumns); err != nil {
		return nil, err
	}
	findings = append(findings, nearDuplicates(t, p.Correlation, opts.GetLabel())...)
	missing, err := missingPatterns(w, t, opts.GetLabel())
	if err != nil {
		return nil, err
	}
	findings = append(findings, missing...)
	if label := opts.GetLabel(); label != "" {
		leaks, err := leakage(w, t, label)
		if err != nil {
			return nil, err
		}
		findings = append(findings, leaks...)
		if c, _ := t.Column(label); c == nil {
			findings = append(findings, &datav1.Finding{
				Severity: datav1.Severity_SEVERITY_ERROR, Code: "label_missing", Column: label,
				Message:    fmt.Sprintf("The label column %q is not in the table.", label),
				Suggestion: "Pick one of the table's columns as the label, or check the spelling.",
			})
		}
	}
	if err := w.step(t.NumRows() * len(t.Columns)); err != nil {
		return nil, err
	}
	p.DuplicateRows = int64(duplicateRows(t))
	if p.DuplicateRows > 0 {
		findings = append(findings, &datav1.Finding{
			Severity: datav1.Severity_SEVERITY_WARNING, Code: "duplicate_rows",
			Message:    fmt.Sprintf("%d of %d rows repeat an earlier row exactly.", p.DuplicateRows, p.RowCount),
			Suggestion: "Remove duplicates before splitting, or the same row can land in both train and test and flatter the scores.",
		})
	}
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Code < b.Code
	})
	p.Findings = findings
	return p, nil
}

// profileColumn computes one column's statistics and findings.
func profileColumn(c *table.Column, rows, bins, top int, isLabel bool) (*datav1.ColumnProfile, []*datav1.Finding) {
	cp := &datav1.ColumnProfile{Name: c.Name, Type: c.Type}
	var fs []*datav1.Finding
	add := func(sev datav1.Severity, code, msg, suggestion string) *datav1.Finding {
		f := newFinding(sev, code, []string{c.Name}, 0, msg, suggestion, nil)
		fs = append(fs, f)
		return f
	}
	dropFix := &datav1.CleaningOptions{DropColumns: []string{c.Name}}
	var counts []*datav1.CategoryCount // every distinct value, most frequent first
	switch c.Type {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		counts = categoryCounts(c)
		cp.Distinct = int64(len(counts))
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		var n [2]int64
		for _, v := range c.Nums {
			if !math.IsNaN(v) {
				n[b2i(v != 0)]++
			}
		}
		for _, k := range []int{0, 1} {
			if n[k] > 0 {
				counts = append(counts, &datav1.CategoryCount{Value: strconv.FormatBool(k == 1), Count: n[k]})
			}
		}
		sortCounts(counts)
		cp.Distinct = int64(len(counts))
		numericMoments(cp, c.Nums)
	default:
		fs = append(fs, profileNumeric(cp, c, bins)...)
	}
	if counts != nil {
		for _, cc := range counts {
			cp.Count += cc.Count
		}
		cp.TopCategories = counts[:min(top, len(counts))]
	}
	cp.Missing = int64(rows) - cp.Count

	if rows > 0 {
		share := float64(cp.Missing) / float64(rows)
		switch {
		case cp.Missing == 0:
		case share > highMissing:
			sug := "Consider dropping the column (drop_columns); prepare otherwise imputes the gaps."
			if isLabel {
				sug = "Rows without a label cannot be learnt from and are dropped by prepare; collect more labelled rows."
			}
			f := add(datav1.Severity_SEVERITY_WARNING, "high_missing", fmt.Sprintf("%.1f%% of the values (%d of %d) are missing.", 100*share, cp.Missing, rows), sug)
			f.Value = share
			if !isLabel {
				f.Fix = dropFix
			}
		default:
			sug := "Prepare imputes missing values (median for numbers, most frequent value for categories)."
			if isLabel {
				sug = "Rows without a label are dropped by prepare."
			}
			add(datav1.Severity_SEVERITY_INFO, "missing_values", fmt.Sprintf("%d of %d values (%.1f%%) are missing.", cp.Missing, rows, 100*share), sug).Value = share
		}
	}
	if cp.Distinct <= 1 && rows > 0 {
		msg := fmt.Sprintf("The column has a single value (%s).", singleValue(c))
		if cp.Count == 0 {
			msg = "The column has no values."
		}
		if isLabel {
			add(datav1.Severity_SEVERITY_ERROR, "label_constant", msg, "A label with one value cannot be learnt; pick another label or collect rows of the other classes.")
		} else {
			add(datav1.Severity_SEVERITY_WARNING, "constant_column", msg, "It carries no information; prepare drops constant columns.").Fix = dropFix
		}
	}
	idLike := false
	if !isLabel && cp.Count > idLikeMinRows && cp.Distinct == cp.Count {
		if c.IsCategorical() {
			idLike = true
			f := add(datav1.Severity_SEVERITY_WARNING, "id_like_column", fmt.Sprintf("Every one of its %d values is different, like an identifier.", cp.Count),
				"Identifiers do not generalise; prepare drops such columns unless keep_id_like is set.")
			f.Value, f.Fix = 1, dropFix
		} else if isRowNumber(c, cp) {
			idLike = true
			f := add(datav1.Severity_SEVERITY_WARNING, "id_like_column", fmt.Sprintf("Its %d values are the consecutive whole numbers %g to %g, like a row number.", cp.Count, cp.Min, cp.Max),
				"Add it to drop_columns: a row number only helps a model that memorises the order of the file.")
			f.Value, f.Fix = 1, dropFix
		}
	}
	// A mostly numeric column is reported as mixed types, not as many
	// categories: its fix (parse_numeric) excludes grouping.
	var mixed *datav1.Finding
	if c.IsCategorical() && !idLike && !isLabel {
		mixed = mixedTypes(c, counts)
	}
	if mixed != nil {
		fs = append(fs, mixed)
	} else if c.IsCategorical() && !idLike && !isLabel && cp.Distinct > highCardinalityDistinct && float64(cp.Distinct) > highCardinalityShare*float64(cp.Count) {
		ratio := float64(cp.Distinct) / float64(cp.Count)
		f := add(datav1.Severity_SEVERITY_WARNING, "high_cardinality", fmt.Sprintf("%d distinct values in %d rows (%.0f%% as many values as rows): most categories are rare.", cp.Distinct, cp.Count, 100*ratio),
			"Group the rare values into one category (group_rare), or drop the column if it is an identifier in disguise.")
		f.Value, f.Fix = ratio, &datav1.CleaningOptions{GroupRare: []string{c.Name}}
	}
	if isLabel && c.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC && len(counts) >= 2 {
		major, minor := counts[0], counts[len(counts)-1]
		if ratio := float64(minor.Count) / float64(major.Count); ratio < moderateImbalance {
			sev := datav1.Severity_SEVERITY_INFO
			if ratio < imbalanceRatio {
				sev = datav1.Severity_SEVERITY_WARNING
			}
			add(sev, "class_imbalance",
				fmt.Sprintf("The rarest class %q has %d rows, the most frequent %q has %d (ratio %.2f).", minor.Value, minor.Count, major.Value, major.Count, ratio),
				"Judge models by balanced accuracy or per-class recall rather than accuracy; train with balanced class weights, and collect more rows of the rare classes if you can.").Value = ratio
		}
	}
	return cp, fs
}

// profileNumeric fills the statistics of a NUMERIC column and returns its
// distribution findings. Infinite values count as present but are left out
// of the moments, quantiles and histogram, which they would make useless.
func profileNumeric(cp *datav1.ColumnProfile, c *table.Column, bins int) []*datav1.Finding {
	var fs []*datav1.Finding
	add := func(sev datav1.Severity, code, msg, suggestion string) *datav1.Finding {
		f := newFinding(sev, code, []string{c.Name}, 0, msg, suggestion, nil)
		fs = append(fs, f)
		return f
	}
	vals := make([]float64, 0, len(c.Nums))
	var posInf, negInf int64
	for _, v := range c.Nums {
		switch {
		case math.IsNaN(v):
		case math.IsInf(v, 1):
			posInf++
		case math.IsInf(v, -1):
			negInf++
		default:
			vals = append(vals, v)
		}
	}
	sort.Float64s(vals)
	cp.Count = int64(len(vals)) + posInf + negInf
	cp.Distinct = int64(distinctSorted(vals)) + b2i64(posInf > 0) + b2i64(negInf > 0)
	if posInf+negInf > 0 {
		add(datav1.Severity_SEVERITY_WARNING, "infinite_values", fmt.Sprintf("%d values are infinite.", posInf+negInf),
			"Replace them at the source; prepare treats infinite values as missing and imputes them.")
	}
	if len(vals) == 0 {
		return fs
	}
	numericMoments(cp, vals)
	for _, q := range Quantiles {
		cp.Quantiles = append(cp.Quantiles, &datav1.Quantile{Q: q, Value: quantile(vals, q)})
	}
	cp.Histogram = histogram(vals, bins)
	sk := skewness(vals, cp.Mean)
	fs = append(fs, outliers(c.Name, vals, vals[0] >= 0 && sk > logSkew)...)
	if vals[0] >= 0 && sk > logSkew {
		add(datav1.Severity_SEVERITY_INFO, "skewed", fmt.Sprintf("The distribution is skewed to the right (skewness %.2f) and has no negative values.", sk),
			"A log transform, log(1+x) (log_transform), makes it more symmetric, which helps linear models and k-NN.").Fix = &datav1.CleaningOptions{LogTransform: []string{c.Name}}
	} else if math.Abs(sk) > skewLimit {
		add(datav1.Severity_SEVERITY_INFO, "skewed", fmt.Sprintf("The distribution is strongly skewed (skewness %.2f).", sk),
			"A signed log transform, sign(x)·log(1+|x|), at the source would make it more symmetric; tree models do not mind.")
	}
	return fs
}

// outliers applies Tukey's fences to sorted finite values: values beyond
// Q1 - 1.5·IQR or Q3 + 1.5·IQR are outliers, beyond 3·IQR "far out". A
// column is reported when it has far-out values, or more than 2 % outliers
// (a heavy tail); the fix clips to the inner fences learnt on the train
// rows. It is a warning when at least 0.5 % of the values are far out —
// for a right-skewed column of values ≥ 0 (logSkewed), far out on the
// log(1+x) scale too, since there a long tail is the skew, not errors.
func outliers(name string, vals []float64, logSkewed bool) []*datav1.Finding {
	q1, q3 := quantile(vals, 0.25), quantile(vals, 0.75)
	iqr := q3 - q1
	if !(iqr > 0) || math.IsInf(iqr, 0) {
		return nil
	}
	lo1, hi1 := q1-innerFence*iqr, q3+innerFence*iqr
	lo3, hi3 := q1-outerFence*iqr, q3+outerFence*iqr
	var n1, n3 int
	var examples []string
	for _, v := range vals {
		if v < lo1 || v > hi1 {
			n1++
		}
		if v < lo3 || v > hi3 {
			n3++
		}
	}
	n := float64(len(vals))
	share1, share3 := float64(n1)/n, float64(n3)/n
	if n3 == 0 && share1 <= heavyTailShare {
		return nil
	}
	// The most extreme values on each side, as examples.
	if vals[0] < lo1 {
		examples = append(examples, strconv.FormatFloat(vals[0], 'g', 6, 64))
	}
	if vals[len(vals)-1] > hi1 {
		examples = append(examples, strconv.FormatFloat(vals[len(vals)-1], 'g', 6, 64))
	}
	sev := datav1.Severity_SEVERITY_INFO
	if share3 >= farOutWarnShare && (!logSkewed || farOutShare(vals, true) >= farOutWarnShare) {
		sev = datav1.Severity_SEVERITY_WARNING
	}
	f := newFinding(sev, "outliers", []string{name}, share1,
		fmt.Sprintf("%d values (%.1f%%) lie outside Tukey's fences [%.4g, %.4g] (1.5 interquartile ranges beyond the quartiles); %d of them lie beyond 3 ranges, outside [%.4g, %.4g].",
			n1, 100*share1, lo1, hi1, n3, lo3, hi3),
		"Check them for data-entry errors. Clipping to the fences (clip_outliers, bounds learnt on the train rows) protects linear models and k-NN; tree models do not need it. If the column is skewed, a log transform may be the better fix.",
		&datav1.CleaningOptions{ClipOutliers: []string{name}})
	f.Examples = examples
	return []*datav1.Finding{f}
}

// farOutShare is the share of sorted values beyond Tukey's outer fences,
// on the log(1+x) scale when logScale (the values must then be ≥ 0).
func farOutShare(vals []float64, logScale bool) float64 {
	x := vals
	if logScale {
		x = make([]float64, len(vals))
		for i, v := range vals {
			x[i] = math.Log1p(v) // monotone: x stays sorted
		}
	}
	q1, q3 := quantile(x, 0.25), quantile(x, 0.75)
	iqr := q3 - q1
	if !(iqr > 0) {
		return 0
	}
	n := 0
	for _, v := range x {
		if v < q1-outerFence*iqr || v > q3+outerFence*iqr {
			n++
		}
	}
	return float64(n) / float64(len(x))
}

// numericMoments sets min, max, mean and the sample standard deviation
// (n-1 denominator, numpy's std(ddof=1)) of the present finite values.
func numericMoments(cp *datav1.ColumnProfile, vals []float64) {
	n := 0
	var sum, comp float64
	cp.Min, cp.Max = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		n++
		cp.Min, cp.Max = min(cp.Min, v), max(cp.Max, v)
		// Neumaier's compensated summation.
		t := sum + v
		if math.Abs(sum) >= math.Abs(v) {
			comp += (sum - t) + v
		} else {
			comp += (v - t) + sum
		}
		sum = t
	}
	if n == 0 {
		cp.Min, cp.Max = 0, 0
		return
	}
	cp.Mean = (sum + comp) / float64(n)
	if n < 2 {
		return
	}
	var ss float64
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ss += (v - cp.Mean) * (v - cp.Mean)
		}
	}
	cp.Std = math.Sqrt(ss / float64(n-1))
}

// quantile is numpy's default quantile ("linear", Hyndman and Fan's
// definition 7) of sorted values: with h = (n-1)q, the value interpolated
// between the order statistics floor(h) and floor(h)+1.
func quantile(sorted []float64, q float64) float64 {
	h := float64(len(sorted)-1) * q
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := h - float64(lo)
	if frac == 0 {
		return sorted[lo]
	}
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// histogram counts sorted finite values in equal-width bins between the
// smallest and largest value, as numpy.histogram does: the last bin
// includes its upper edge, and when every value is the same the range is
// widened to value ± 0.5.
func histogram(sorted []float64, bins int) *datav1.Histogram {
	lo, hi := sorted[0], sorted[len(sorted)-1]
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	step := (hi - lo) / float64(bins)
	if math.IsInf(step, 0) { // the range overflows float64: divide first
		step = hi/float64(bins) - lo/float64(bins)
	}
	h := &datav1.Histogram{Edges: make([]float64, bins+1), Counts: make([]int64, bins)}
	for i := range h.Edges {
		h.Edges[i] = lo + float64(i)*step
	}
	h.Edges[bins] = hi
	for _, v := range sorted {
		k := int((v - lo) / step)
		if d := (v - lo) / step; math.IsInf(d, 0) || math.IsNaN(d) {
			k = int(v/step - lo/step)
		}
		k = min(max(k, 0), bins-1)
		// Correct the rounding of the division against the stored edges.
		if k > 0 && v < h.Edges[k] {
			k--
		} else if k < bins-1 && v >= h.Edges[k+1] {
			k++
		}
		h.Counts[k]++
	}
	return h
}

// skewness is the Fisher–Pearson coefficient g1 = m3 / m2^1.5 with
// population central moments (scipy.stats.skew's default, bias=True).
// It is 0 for fewer than 3 values or no spread.
func skewness(vals []float64, mean float64) float64 {
	if len(vals) < 3 {
		return 0
	}
	var m2, m3 float64
	for _, v := range vals {
		d := v - mean
		m2 += d * d
		m3 += d * d * d
	}
	n := float64(len(vals))
	m2, m3 = m2/n, m3/n
	if !(m2 > 0) || math.IsInf(m2, 0) {
		return 0
	}
	s := m3 / math.Pow(m2, 1.5)
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return 0
	}
	return s
}

// isRowNumber reports whether a numeric column's present values are all
// distinct whole numbers without gaps, like a row index. cp must hold the
// column's count, distinct, min and max.
func isRowNumber(c *table.Column, cp *datav1.ColumnProfile) bool {
	if c.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC || cp.Min != math.Trunc(cp.Min) || cp.Max-cp.Min+1 != float64(cp.Count) {
		return false
	}
	for _, v := range c.Nums {
		if !math.IsNaN(v) && v != math.Trunc(v) {
			return false
		}
	}
	return true
}

// categoryCounts counts a categorical column's present values by string
// (a dictionary may hold a string twice), most frequent first.
func categoryCounts(c *table.Column) []*datav1.CategoryCount {
	byCode := make([]int64, len(c.Dict))
	for _, code := range c.Codes {
		if code >= 0 {
			byCode[code]++
		}
	}
	byValue := make(map[string]int64, len(c.Dict))
	for code, n := range byCode {
		if n > 0 {
			byValue[c.Dict[code]] += n
		}
	}
	out := make([]*datav1.CategoryCount, 0, len(byValue))
	for v, n := range byValue {
		out = append(out, &datav1.CategoryCount{Value: v, Count: n})
	}
	sortCounts(out)
	return out
}

// sortCounts orders categories most frequent first, ties alphabetically.
func sortCounts(cs []*datav1.CategoryCount) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Count != cs[j].Count {
			return cs[i].Count > cs[j].Count
		}
		return cs[i].Value < cs[j].Value
	})
}

// singleValue is the text of a column's first present value.
func singleValue(c *table.Column) string {
	for i := 0; i < c.Len(); i++ {
		if !c.IsMissing(i) {
			return strconv.Quote(c.Text(i))
		}
	}
	return "none"
}

// distinctSorted counts distinct values of a sorted slice (0 == -0).
func distinctSorted(sorted []float64) int {
	n := 0
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			n++
		}
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2i64(b bool) int64 { return int64(b2i(b)) }
