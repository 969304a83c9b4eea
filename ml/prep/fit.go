package prep

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// Drop reasons recorded in ColumnTransform.drop_reason.
const (
	DropLabel       = "label"
	DropSplitColumn = "split column"
	DropRequested   = "requested"
	DropConstant    = "constant"
	DropIDLike      = "id-like"
)

// Fit learns the transform from the given rows of t (the train rows; nil
// means every row). Rows whose label is missing are left out and counted in
// label_missing_dropped.
//
// What is learnt mirrors a scikit-learn ColumnTransformer of
// SimpleImputer + StandardScaler for numbers and
// SimpleImputer(most_frequent) + OneHotEncoder for categories:
//
//   - the label, the split column and drop_columns are not features;
//   - a column with at most one distinct present value is dropped
//     ("constant"), and so is a categorical column whose values are all
//     distinct over more than 20 rows ("id-like") unless keep_id_like;
//   - NUMERIC and BOOLEAN columns are imputed with the median (or mean) of
//     their finite values, then standardised with the mean and population
//     standard deviation of the imputed values (scale 1 when there is no
//     spread), unless no_scaling; infinite values count as missing;
//   - CATEGORICAL columns are imputed with the most frequent value (ties to
//     the lexicographically smallest) and one-hot encoded over the
//     max_categories most frequent values seen, in lexicographic order.
func Fit(t *table.Table, rows []int, opts *prepv1.PrepareOptions) (*datav1.FittedTransform, error) {
	if err := ValidateOptions(opts); err != nil {
		return nil, err
	}
	if t == nil || t.NumRows() == 0 {
		return nil, errors.New("the table has no rows")
	}
	if rows == nil {
		rows = make([]int, t.NumRows())
		for i := range rows {
			rows[i] = i
		}
	}
	for _, r := range rows {
		if r < 0 || r >= t.NumRows() {
			return nil, fmt.Errorf("row %d is outside the table's %d rows", r, t.NumRows())
		}
	}
	idx := columnIndex(t)
	li, err := analyzeLabel(t, idx, rows, opts)
	if err != nil {
		return nil, err
	}
	if err := checkColumnsExist(t, idx, opts); err != nil {
		return nil, err
	}
	tr := &datav1.FittedTransform{
		InputSchema:         t.Schema(),
		Label:               opts.GetLabel(),
		Task:                li.task,
		ClassNames:          li.classes,
		LabelMissingDropped: int64(li.missing),
	}
	dropped := make(map[string]string, len(opts.GetDropColumns())+2)
	for _, d := range opts.GetDropColumns() {
		dropped[d] = DropRequested
	}
	if sc := opts.GetSplitColumn(); sc != "" {
		dropped[sc] = DropSplitColumn
	}
	dropped[opts.GetLabel()] = DropLabel
	for _, c := range t.Columns {
		ct := &datav1.ColumnTransform{Name: c.Name, Type: c.Type}
		if reason, ok := dropped[c.Name]; ok {
			ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, reason
		} else if c.IsCategorical() {
			fitCategorical(ct, c, li.present, opts)
		} else {
			fitNumeric(ct, c, li.present, opts)
		}
		tr.Columns = append(tr.Columns, ct)
	}
	tr.FeatureNames = featureNames(tr.Columns)
	if len(tr.FeatureNames) == 0 {
		return nil, fmt.Errorf("no feature columns are left: %s", describeDrops(tr.Columns))
	}
	seen := make(map[string]bool, len(tr.FeatureNames)+1)
	seen[tr.Label] = true
	for _, f := range tr.FeatureNames {
		if seen[f] {
			return nil, fmt.Errorf("two outputs are named %q (a feature and another feature or the label); rename a column", f)
		}
		seen[f] = true
	}
	return tr, nil
}

// fitNumeric learns imputation and scaling of a NUMERIC or BOOLEAN column.
func fitNumeric(ct *datav1.ColumnTransform, c *table.Column, rows []int, opts *prepv1.PrepareOptions) {
	vals := make([]float64, 0, len(rows))
	for _, r := range rows {
		if v := c.Nums[r]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	sort.Float64s(vals)
	if len(vals) == 0 || vals[0] == vals[len(vals)-1] {
		ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, DropConstant
		return
	}
	ct.Action = datav1.ColumnAction_COLUMN_ACTION_NUMERIC
	ct.ImputeNumber = median(vals)
	if opts.GetNumericImpute() == prepv1.NumericImpute_NUMERIC_IMPUTE_MEAN {
		// A sum beyond the float64 range keeps the median instead.
		if m := mean(vals); finite(m) {
			ct.ImputeNumber = m
		}
	}
	ct.Scale = 1
	if opts.GetNoScaling() {
		return
	}
	// The scaler sees the imputed column, as in an imputer-then-scaler
	// pipeline: the present values plus one imputed value per missing row.
	nMissing := len(rows) - len(vals)
	n := float64(len(rows))
	m := (sumKahan(vals) + float64(nMissing)*ct.ImputeNumber) / n
	ss := float64(nMissing) * (ct.ImputeNumber - m) * (ct.ImputeNumber - m)
	for _, v := range vals {
		ss += (v - m) * (v - m)
	}
	std := math.Sqrt(ss / n)
	if math.IsInf(m, 0) || math.IsNaN(m) || math.IsInf(std, 0) || math.IsNaN(std) {
		return // values near the float64 limit: leave them unscaled
	}
	ct.Scaled, ct.Mean, ct.Scale = true, m, std
	// Like scikit-learn's StandardScaler, a column whose spread is lost in
	// rounding is not scaled (scale 1) rather than blown up.
	if !(std > 10*epsilon*math.Abs(m)) || std == 0 {
		ct.Scale = 1
	}
}

const epsilon = 0x1p-52

// fitCategorical learns imputation and the one-hot vocabulary of a
// CATEGORICAL column.
func fitCategorical(ct *datav1.ColumnTransform, c *table.Column, rows []int, opts *prepv1.PrepareOptions) {
	counts := make(map[string]int)
	present := 0
	for _, r := range rows {
		if code := c.Codes[r]; code >= 0 {
			counts[c.Dict[code]]++
			present++
		}
	}
	if len(counts) <= 1 {
		ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, DropConstant
		return
	}
	if !opts.GetKeepIdLike() && present > idLikeMinRows && len(counts) == present {
		ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, DropIDLike
		return
	}
	ranked := make([]string, 0, len(counts))
	for v := range counts {
		ranked = append(ranked, v)
	}
	sort.Slice(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if counts[a] != counts[b] {
			return counts[a] > counts[b]
		}
		return a < b
	})
	ct.Action = datav1.ColumnAction_COLUMN_ACTION_ONE_HOT
	ct.ImputeCategory = ranked[0]
	if k := maxCategories(opts); len(ranked) > k {
		ranked = ranked[:k]
	}
	sort.Strings(ranked)
	ct.Categories = ranked
}

// featureNames lists the output features of the column transforms: a
// numeric column keeps its name, a one-hot output is "column=value".
func featureNames(cols []*datav1.ColumnTransform) []string {
	var names []string
	for _, ct := range cols {
		switch ct.GetAction() {
		case datav1.ColumnAction_COLUMN_ACTION_NUMERIC:
			names = append(names, ct.GetName())
		case datav1.ColumnAction_COLUMN_ACTION_ONE_HOT:
			for _, v := range ct.GetCategories() {
				names = append(names, ct.GetName()+"="+v)
			}
		}
	}
	return names
}

// describeDrops summarises why columns were dropped, for the error raised
// when nothing is left to learn from.
func describeDrops(cols []*datav1.ColumnTransform) string {
	parts := make([]string, 0, len(cols))
	for _, ct := range cols {
		parts = append(parts, fmt.Sprintf("%q (%s)", ct.GetName(), ct.GetDropReason()))
	}
	const show = 20
	if len(parts) > show {
		return strings.Join(parts[:show], ", ") + fmt.Sprintf(" and %d more", len(parts)-show)
	}
	return strings.Join(parts, ", ")
}

// median is numpy's median of sorted values: the middle value, or the
// mean of the two middle values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return 0.5*sorted[n/2-1] + 0.5*sorted[n/2] // halves: no overflow, same rounding
}

func mean(vals []float64) float64 {
	return sumKahan(vals) / float64(len(vals))
}

// sumKahan adds with Neumaier's compensated summation (improved Kahan), so
// that long columns keep their precision.
func sumKahan(vals []float64) float64 {
	var s, comp float64
	for _, v := range vals {
		t := s + v
		if math.Abs(s) >= math.Abs(v) {
			comp += (s - t) + v
		} else {
			comp += (v - t) + s
		}
		s = t
	}
	return s + comp
}
