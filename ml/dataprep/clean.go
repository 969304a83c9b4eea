package dataprep

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// Defaults of the cleaning options, as documented in transform.proto.
const (
	// DefaultClipIQRK is Tukey's fence multiple used when clip_iqr_k is 0.
	DefaultClipIQRK = 1.5
	// MaxClipIQRK bounds clip_iqr_k: wider fences clip nothing.
	MaxClipIQRK = 100
	// DefaultRareMinFrequency is the rare share used when neither
	// rare_min_frequency nor rare_top_n is set.
	DefaultRareMinFrequency = 0.01
	// DefaultRareLabel names the merged rare category.
	DefaultRareLabel = "other"
)

// ParseNumber reads a categorical value as a number the way parse_numeric
// does: surrounding spaces are ignored and the text must be a decimal or
// scientific number that strconv.ParseFloat accepts; "NaN" and infinities
// do not count as numbers. The profile's mixed-type finding uses the same
// rule, so the values it calls numeric are the ones parse_numeric keeps.
func ParseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !finite(v) {
		return 0, false
	}
	return v, true
}

// colPlan is what the cleaning options ask for one column, with the option
// fields that asked, for error messages.
type colPlan struct {
	parse, log, clip, rare, drop bool
	parseField, logField         string
	clipField, rareField         string
	impute                       *datav1.ImputeRule // a rule naming the column
	imputeField                  string
}

// cleaningLists names each list of CleaningOptions with its field, in the
// order errors are reported.
func cleaningLists(c *datav1.CleaningOptions) []struct {
	field string
	names []string
} {
	return []struct {
		field string
		names []string
	}{
		{"options.cleaning.drop_columns", c.GetDropColumns()},
		{"options.cleaning.parse_numeric", c.GetParseNumeric()},
		{"options.cleaning.log_transform", c.GetLogTransform()},
		{"options.cleaning.clip_outliers", c.GetClipOutliers()},
		{"options.cleaning.group_rare", c.GetGroupRare()},
	}
}

// validateCleaning checks CleaningOptions on their own, before any data.
func validateCleaning(o *prepv1.PrepareOptions) error {
	c := o.GetCleaning()
	if c == nil {
		return nil
	}
	// A column may be listed twice in one list (merged fixes of several
	// findings can repeat it); that asks for the same thing twice.
	for _, l := range cleaningLists(c) {
		for i, name := range l.names {
			field := fmt.Sprintf("%s[%d]", l.field, i)
			switch {
			case name == "":
				return optErr(field, "is empty")
			case name == o.GetLabel():
				return optErr(field, "is the label column %q", name)
			case name == o.GetSplitColumn():
				return optErr(field, "is the split column %q", name)
			}
		}
	}
	parsed := make(map[string]bool, len(c.GetParseNumeric()))
	for _, n := range c.GetParseNumeric() {
		parsed[n] = true
	}
	for i, n := range c.GetGroupRare() {
		if parsed[n] {
			return optErr(fmt.Sprintf("options.cleaning.group_rare[%d]", i), "column %q is also in parse_numeric: it cannot be both numbers and categories", n)
		}
	}
	seen := make(map[string]bool, len(c.GetImpute()))
	for i, r := range c.GetImpute() {
		field := fmt.Sprintf("options.cleaning.impute[%d]", i)
		switch r.GetStrategy() {
		case datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN, datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN, datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE:
			if r.GetValue() != "" {
				return optErr(field+".value", "is only for strategy IMPUTE_STRATEGY_CONSTANT, not %v", r.GetStrategy())
			}
		case datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT:
			if r.GetValue() == "" {
				return optErr(field+".value", "is required with strategy IMPUTE_STRATEGY_CONSTANT")
			}
		case datav1.ImputeStrategy_IMPUTE_STRATEGY_UNSPECIFIED:
			return optErr(field+".strategy", "is required: median, mean, mode or constant")
		default:
			return optErr(field+".strategy", "unknown strategy %d", int32(r.GetStrategy()))
		}
		switch col := r.GetColumn(); {
		case col == o.GetLabel():
			return optErr(field+".column", "is the label column %q; rows without a label are dropped, not imputed", col)
		case seen[col] && col == "":
			return optErr(field+".column", "a second default rule (empty column); keep one")
		case seen[col]:
			return optErr(field+".column", "column %q has a second rule", col)
		}
		seen[r.GetColumn()] = true
	}
	if k := c.GetClipIqrK(); !finite(k) || k < 0 || k > MaxClipIQRK {
		return optErr("options.cleaning.clip_iqr_k", "%g is outside [0, %d]", k, MaxClipIQRK)
	}
	lo, hi := c.GetClipLowerQuantile(), c.GetClipUpperQuantile()
	if lo != 0 || hi != 0 {
		if !finite(lo) || lo < 0 || lo >= 1 {
			return optErr("options.cleaning.clip_lower_quantile", "%g is outside [0, 1)", lo)
		}
		if !finite(hi) || hi <= lo || hi > 1 {
			return optErr("options.cleaning.clip_upper_quantile", "%g must be above clip_lower_quantile (%g) and at most 1", hi, lo)
		}
		if c.GetClipIqrK() != 0 {
			return optErr("options.cleaning.clip_iqr_k", "set either clip_iqr_k or the clip quantiles, not both")
		}
	}
	if f := c.GetRareMinFrequency(); !finite(f) || f < 0 || f >= 1 {
		return optErr("options.cleaning.rare_min_frequency", "%g is outside [0, 1)", f)
	}
	if n := c.GetRareTopN(); n < 0 || n > MaxMaxCategories {
		return optErr("options.cleaning.rare_top_n", "%d is outside [0, %d]", n, MaxMaxCategories)
	}
	if c.GetRareTopN() > 0 && c.GetRareMinFrequency() > 0 {
		return optErr("options.cleaning.rare_top_n", "set either rare_top_n or rare_min_frequency, not both")
	}
	return nil
}

// plans turns the cleaning options into one plan per named column, plus
// the default imputation rule. It assumes validateCleaning passed.
func plans(o *prepv1.PrepareOptions) (map[string]*colPlan, *datav1.ImputeRule, string) {
	c := o.GetCleaning()
	out := make(map[string]*colPlan)
	get := func(n string) *colPlan {
		p := out[n]
		if p == nil {
			p = &colPlan{}
			out[n] = p
		}
		return p
	}
	for _, n := range c.GetDropColumns() {
		get(n).drop = true
	}
	for i, n := range c.GetParseNumeric() {
		p := get(n)
		p.parse, p.parseField = true, fmt.Sprintf("options.cleaning.parse_numeric[%d]", i)
	}
	for i, n := range c.GetLogTransform() {
		p := get(n)
		p.log, p.logField = true, fmt.Sprintf("options.cleaning.log_transform[%d]", i)
	}
	for i, n := range c.GetClipOutliers() {
		p := get(n)
		p.clip, p.clipField = true, fmt.Sprintf("options.cleaning.clip_outliers[%d]", i)
	}
	for i, n := range c.GetGroupRare() {
		p := get(n)
		p.rare, p.rareField = true, fmt.Sprintf("options.cleaning.group_rare[%d]", i)
	}
	var def *datav1.ImputeRule
	defField := ""
	for i, r := range c.GetImpute() {
		field := fmt.Sprintf("options.cleaning.impute[%d]", i)
		if r.GetColumn() == "" {
			def, defField = r, field
			continue
		}
		p := get(r.GetColumn())
		p.impute, p.imputeField = r, field
	}
	return out, def, defField
}

// CheckSchema checks the options against a table's schema before any row
// arrives: the label, split column and every column the drop and cleaning
// options name must exist, with a type the option can work on. The error
// is an *OptionError naming the option field.
func CheckSchema(sc *datav1.Schema, o *prepv1.PrepareOptions) error {
	types := make(map[string]datav1.ColumnType, len(sc.GetFields()))
	names := make([]string, 0, len(sc.GetFields()))
	for _, f := range sc.GetFields() {
		if _, dup := types[f.GetName()]; !dup {
			types[f.GetName()] = f.GetType()
		}
		names = append(names, f.GetName())
	}
	missing := func(field, name string) error {
		return optErr(field, "column %q is not in the table (columns: %s)", name, columnList(names))
	}
	if _, ok := types[o.GetLabel()]; !ok {
		return missing("options.label", o.GetLabel())
	}
	if s := o.GetSplitColumn(); s != "" {
		if _, ok := types[s]; !ok {
			return missing("options.split_column", s)
		}
	}
	for i, d := range o.GetDropColumns() {
		if _, ok := types[d]; !ok {
			return missing(fmt.Sprintf("options.drop_columns[%d]", i), d)
		}
	}
	for i, k := range o.GetKeepColumns() {
		if _, ok := types[k]; !ok {
			return missing(fmt.Sprintf("options.keep_columns[%d]", i), k)
		}
	}
	c := o.GetCleaning()
	if c == nil {
		return nil
	}
	for _, l := range cleaningLists(c) {
		for i, n := range l.names {
			if _, ok := types[n]; !ok {
				return missing(fmt.Sprintf("%s[%d]", l.field, i), n)
			}
		}
	}
	for i, r := range c.GetImpute() {
		if n := r.GetColumn(); n != "" {
			if _, ok := types[n]; !ok {
				return missing(fmt.Sprintf("options.cleaning.impute[%d].column", i), n)
			}
		}
	}
	ps, def, defField := plans(o)
	for name, p := range ps {
		if p.drop {
			continue // a dropped column is never cleaned
		}
		categorical := types[name] == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
		numeric := !categorical || p.parse
		if p.parse && !categorical {
			return optErr(p.parseField, "column %q is already %v; parse_numeric is for categorical columns whose values are numbers", name, types[name])
		}
		if p.log && !numeric {
			return optErr(p.logField, "column %q is categorical; a log transform needs numbers (add it to parse_numeric if its values are numbers)", name)
		}
		if p.clip && !numeric {
			return optErr(p.clipField, "column %q is categorical; clipping needs numbers (add it to parse_numeric if its values are numbers)", name)
		}
		if p.rare && !categorical {
			return optErr(p.rareField, "column %q is %v; only categorical columns have categories to group", name, types[name])
		}
		if r := p.impute; r != nil {
			if err := checkImputeType(p.imputeField, name, r, numeric, types[name]); err != nil {
				return err
			}
		}
	}
	if def != nil && def.GetStrategy() == datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT {
		for _, f := range sc.GetFields() {
			name := f.GetName()
			if p := ps[name]; p != nil && (p.drop || p.impute != nil) {
				continue
			}
			if name == o.GetLabel() || name == o.GetSplitColumn() || f.GetType() == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL && (ps[name] == nil || !ps[name].parse) {
				continue
			}
			if _, ok := numericConstant(def.GetValue(), f.GetType()); !ok {
				return optErr(defField+".value", "%q is not a number, but it is the default for numeric column %q; give that column a rule of its own", def.GetValue(), name)
			}
		}
	}
	return nil
}

// checkImputeType checks that a rule naming a column suits its type.
func checkImputeType(field, name string, r *datav1.ImputeRule, numeric bool, typ datav1.ColumnType) error {
	switch r.GetStrategy() {
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN, datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN:
		if !numeric {
			return optErr(field+".strategy", "%v needs numbers, but column %q is categorical; use mode or constant", r.GetStrategy(), name)
		}
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT:
		if numeric {
			if typ == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
				typ = datav1.ColumnType_COLUMN_TYPE_NUMERIC // parsed
			}
			if _, ok := numericConstant(r.GetValue(), typ); !ok {
				return optErr(field+".value", "%q is not a number, but column %q is %v", r.GetValue(), name, typ)
			}
		}
	}
	return nil
}

// numericConstant reads an imputation constant for a NUMERIC or BOOLEAN
// column: a finite number, or for booleans also "true" and "false".
func numericConstant(s string, typ datav1.ColumnType) (float64, bool) {
	if typ == datav1.ColumnType_COLUMN_TYPE_BOOLEAN {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return 1, true
		case "false":
			return 0, true
		}
	}
	return ParseNumber(s)
}

// numericMode is the most frequent value of sorted values, ties to the
// smallest.
func numericMode(sorted []float64) float64 {
	best, bestN := sorted[0], 0
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		if j-i > bestN {
			best, bestN = sorted[i], j-i
		}
		i = j
	}
	return best
}

// clipBounds learns clipping bounds from sorted values: Tukey's fences
// [Q1 - k·IQR, Q3 + k·IQR] (Tukey, Exploratory Data Analysis, 1977), or
// the given quantiles; quantiles are numpy's default (linear, Hyndman and
// Fan's definition 7). ok is false when the bounds would collapse to a
// point, since clipping then destroys the column.
func clipBounds(sorted []float64, c *datav1.CleaningOptions) (lo, hi float64, ok bool) {
	if ql, qh := c.GetClipLowerQuantile(), c.GetClipUpperQuantile(); ql != 0 || qh != 0 {
		lo, hi = quantileSorted(sorted, ql), quantileSorted(sorted, qh)
		return lo, hi, hi > lo
	}
	k := c.GetClipIqrK()
	if k == 0 {
		k = DefaultClipIQRK
	}
	q1, q3 := quantileSorted(sorted, 0.25), quantileSorted(sorted, 0.75)
	iqr := q3 - q1
	if !(iqr > 0) || !finite(iqr) {
		return 0, 0, false
	}
	lo, hi = q1-k*iqr, q3+k*iqr
	return lo, hi, finite(lo) && finite(hi)
}

// quantileSorted is numpy's default quantile of sorted values.
func quantileSorted(sorted []float64, q float64) float64 {
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

// keptCategories returns which categories survive rare grouping, given the
// counts ranked most frequent first: the rare_top_n most frequent, or those
// whose share of present values is at least rare_min_frequency (default
// 0.01).
func keptCategories(ranked []string, counts map[string]int, present int, c *datav1.CleaningOptions) map[string]bool {
	kept := make(map[string]bool, len(ranked))
	if n := int(c.GetRareTopN()); n > 0 {
		for _, v := range ranked[:min(n, len(ranked))] {
			kept[v] = true
		}
		return kept
	}
	f := c.GetRareMinFrequency()
	if f == 0 {
		f = DefaultRareMinFrequency
	}
	for _, v := range ranked {
		if float64(counts[v]) >= f*float64(present) {
			kept[v] = true
		}
	}
	return kept
}

// rankCounts orders categories most frequent first, ties lexicographically.
func rankCounts(counts map[string]int) []string {
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
	return ranked
}

// ValidateCleaning checks o's cleaning options on their own, as
// ValidateOptions does, so the orchestrator can refuse a bad spec before a
// run starts instead of failing at the prepare step.
func ValidateCleaning(o *prepv1.PrepareOptions) error { return validateCleaning(o) }
