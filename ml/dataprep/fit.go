package dataprep

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/alur-ml/alur/ml/selection"
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
//     distinct over more than 20 rows ("id-like") unless keep_id_like or
//     keep_columns names it, and so is a numeric column that
//     selection.IDLike calls an identifier (a row counter or near-unique
//     whole numbers), with a note in FittedTransform.notes;
//   - the task, unless the options name it, is selection.InferTask's: a
//     numeric label with few distinct whole numbers is classification;
//   - NUMERIC and BOOLEAN columns are imputed with the median (or mean) of
//     their finite values, then standardised with the mean and population
//     standard deviation of the imputed values (scale 1 when there is no
//     spread), unless no_scaling; infinite values count as missing;
//   - CATEGORICAL columns are imputed with the most frequent value (ties to
//     the lexicographically smallest) and one-hot encoded over the
//     max_categories most frequent values seen, in lexicographic order;
//   - the cleaning options come first: parse_numeric columns are numbers,
//     imputation rules replace the defaults, log_transform and
//     clip_outliers act on the imputed numbers before scaling, and
//     group_rare merges rare categories into one before encoding (see
//     fitNumeric and fitCategorical).
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
	if err := checkColumnsExist(t, opts); err != nil {
		return nil, err
	}
	tr := &datav1.FittedTransform{
		InputSchema:         t.Schema(),
		Label:               opts.GetLabel(),
		Task:                li.task,
		ClassNames:          li.classes,
		LabelMissingDropped: int64(li.missing),
		TaskReason:          li.reason,
	}
	dropped := make(map[string]string, len(opts.GetDropColumns())+2)
	for _, d := range opts.GetDropColumns() {
		dropped[d] = DropRequested
	}
	for _, d := range opts.GetCleaning().GetDropColumns() {
		dropped[d] = DropRequested
	}
	if sc := opts.GetSplitColumn(); sc != "" {
		dropped[sc] = DropSplitColumn
	}
	dropped[opts.GetLabel()] = DropLabel
	ps, def, defField := plans(opts)
	for _, c := range t.Columns {
		ct := &datav1.ColumnTransform{Name: c.Name, Type: c.Type}
		plan := ps[c.Name]
		if plan == nil {
			plan = &colPlan{}
		}
		if reason, ok := dropped[c.Name]; ok {
			ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, reason
		} else if c.IsCategorical() && !plan.parse {
			fitCategorical(ct, c, li.present, opts, plan, def)
		} else if note := numericIDLike(c, opts); note != "" {
			ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, DropIDLike
			tr.Notes = append(tr.Notes, note)
		} else if err := fitNumeric(ct, c, li.present, opts, plan, def, defField); err != nil {
			return nil, err
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

// numericIDLike returns why a NUMERIC column looks like an identifier
// (selection.IDLike over every row in file order: a row counter, or
// near-unique whole numbers), or "" when it is a feature. Such columns
// rarely generalise and often leak the row order; keep_id_like and
// keep_columns keep them.
func numericIDLike(c *table.Column, opts *prepv1.PrepareOptions) string {
	if c.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC || opts.GetKeepIdLike() || contains(opts.GetKeepColumns(), c.Name) {
		return ""
	}
	if ok, why := selection.IDLike(c.Name, c.Nums); ok {
		return why
	}
	return ""
}

// fitNumeric learns imputation, the cleaning steps (log1p, clipping) and
// scaling of a NUMERIC or BOOLEAN column, or of a CATEGORICAL column read
// as numbers (parse_numeric). Each value is replayed as
// impute → log1p → clip → scale; the clipping bounds are learnt on the
// log1p values when both are asked, and the scaler on the final values.
func fitNumeric(ct *datav1.ColumnTransform, c *table.Column, rows []int, opts *prepv1.PrepareOptions, plan *colPlan, def *datav1.ImputeRule, defField string) error {
	nums := c.Nums
	if plan.parse {
		ct.ParseNumeric = true
		nums = parsedNumbers(c)
	}
	vals := make([]float64, 0, len(rows))
	for _, r := range rows {
		if v := nums[r]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	sort.Float64s(vals)
	if len(vals) == 0 || vals[0] == vals[len(vals)-1] {
		ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, DropConstant
		return nil
	}
	ct.Action = datav1.ColumnAction_COLUMN_ACTION_NUMERIC
	ct.ImputeNumber = median(vals)
	rule, ruleField := plan.impute, plan.imputeField
	if rule == nil {
		rule, ruleField = def, defField
	}
	strategy := rule.GetStrategy()
	if strategy == datav1.ImputeStrategy_IMPUTE_STRATEGY_UNSPECIFIED && opts.GetNumericImpute() == prepv1.NumericImpute_NUMERIC_IMPUTE_MEAN {
		strategy = datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN
	} else {
		ct.ImputeStrategy = strategy
	}
	switch strategy {
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN:
		// A sum beyond the float64 range keeps the median instead.
		if m := mean(vals); finite(m) {
			ct.ImputeNumber = m
		}
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE:
		ct.ImputeNumber = numericMode(vals)
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT:
		typ := c.Type
		if plan.parse {
			typ = datav1.ColumnType_COLUMN_TYPE_NUMERIC
		}
		v, ok := numericConstant(rule.GetValue(), typ)
		if !ok {
			return optErr(ruleField+".value", "%q is not a number, but column %q is %v", rule.GetValue(), c.Name, typ)
		}
		ct.ImputeNumber = v
	}
	imputed := ct.ImputeNumber
	if plan.log {
		if vals[0] < 0 {
			return optErr(plan.logField, "column %q has negative values (the smallest train value is %g); log(1+x) needs values of 0 or more: drop the column from log_transform or shift it at the source", c.Name, vals[0])
		}
		if imputed < 0 {
			return optErr(ruleField+".value", "imputes %g into column %q, which is log-transformed and needs values of 0 or more", imputed, c.Name)
		}
		ct.Log1P = true
		for i, v := range vals {
			vals[i] = math.Log1p(v) // monotone: vals stay sorted
		}
		imputed = math.Log1p(imputed)
	}
	if plan.clip {
		if lo, hi, ok := clipBounds(vals, opts.GetCleaning()); ok {
			ct.Clipped, ct.ClipLow, ct.ClipHigh = true, lo, hi
			for i, v := range vals {
				vals[i] = min(max(v, lo), hi) // monotone: vals stay sorted
			}
			imputed = min(max(imputed, lo), hi)
		}
	}
	ct.Scale = 1
	if opts.GetNoScaling() {
		return nil
	}
	// The scaler sees the imputed column, as in an imputer-then-scaler
	// pipeline: the present values plus one imputed value per missing row.
	nMissing := len(rows) - len(vals)
	n := float64(len(rows))
	m := (sumKahan(vals) + float64(nMissing)*imputed) / n
	ss := float64(nMissing) * (imputed - m) * (imputed - m)
	for _, v := range vals {
		ss += (v - m) * (v - m)
	}
	std := math.Sqrt(ss / n)
	if math.IsInf(m, 0) || math.IsNaN(m) || math.IsInf(std, 0) || math.IsNaN(std) {
		return nil // values near the float64 limit: leave them unscaled
	}
	ct.Scaled, ct.Mean, ct.Scale = true, m, std
	// Like scikit-learn's StandardScaler, a column whose spread is lost in
	// rounding is not scaled (scale 1) rather than blown up.
	if !(std > 10*epsilon*math.Abs(m)) || std == 0 {
		ct.Scale = 1
	}
	return nil
}

// parsedNumbers reads a CATEGORICAL column as numbers (ParseNumber); a
// value that is not a number is NaN, that is missing. A column that is
// already numeric is returned as it is.
func parsedNumbers(c *table.Column) []float64 {
	if !c.IsCategorical() {
		return c.Nums
	}
	byCode := make([]float64, len(c.Dict))
	for code, s := range c.Dict {
		if v, ok := ParseNumber(s); ok {
			byCode[code] = v
		} else {
			byCode[code] = math.NaN()
		}
	}
	out := make([]float64, len(c.Codes))
	for r, code := range c.Codes {
		if code < 0 {
			out[r] = math.NaN()
		} else {
			out[r] = byCode[code]
		}
	}
	return out
}

const epsilon = 0x1p-52

// fitCategorical learns imputation, rare-category grouping and the one-hot
// vocabulary of a CATEGORICAL column.
func fitCategorical(ct *datav1.ColumnTransform, c *table.Column, rows []int, opts *prepv1.PrepareOptions, plan *colPlan, def *datav1.ImputeRule) {
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
	if !opts.GetKeepIdLike() && !contains(opts.GetKeepColumns(), c.Name) && present > idLikeMinRows && len(counts) == present {
		ct.Action, ct.DropReason = datav1.ColumnAction_COLUMN_ACTION_DROP, DropIDLike
		return
	}
	ranked := rankCounts(counts)
	if plan.rare {
		label := opts.GetCleaning().GetRareLabel()
		if label == "" {
			label = DefaultRareLabel
		}
		kept := keptCategories(ranked, counts, present, opts.GetCleaning())
		grouped := make(map[string]int, len(kept)+1)
		for v, n := range counts {
			if kept[v] {
				grouped[v] += n
			} else {
				grouped[label] += n
			}
		}
		if len(grouped) < len(counts) || !kept[ranked[len(ranked)-1]] {
			ct.RareLabel = label
			counts = grouped
			ranked = rankCounts(counts)
		}
		if len(counts) <= 1 {
			// Every category was rare: one category left says nothing.
			ct.Action, ct.DropReason, ct.RareLabel = datav1.ColumnAction_COLUMN_ACTION_DROP, DropConstant, ""
			return
		}
	}
	ct.Action = datav1.ColumnAction_COLUMN_ACTION_ONE_HOT
	ct.ImputeCategory = ranked[0]
	rule := plan.impute
	if rule == nil {
		rule = def
	}
	constant := ""
	switch rule.GetStrategy() {
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE:
		ct.ImputeStrategy = datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT:
		ct.ImputeStrategy = datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT
		constant = rule.GetValue()
		ct.ImputeCategory = constant
	}
	k := maxCategories(opts)
	if len(ranked) > k {
		keep := ranked[:k]
		if ct.RareLabel != "" && counts[ct.RareLabel] > 0 && !contains(keep, ct.RareLabel) {
			// Values cut by max_categories fall into the rare category,
			// so it must stay in the vocabulary.
			keep = append(keep[:k-1:k-1], ct.RareLabel)
		}
		ranked = keep
	}
	if constant != "" && !contains(ranked, constant) {
		ranked = append(ranked, constant)
	}
	sort.Strings(ranked)
	ct.Categories = ranked
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
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
