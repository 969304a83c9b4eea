package profile

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Thresholds of the table-wide findings.
const (
	// mixedNumericShare is the share of a categorical column's present
	// values that must look like numbers for it to be called mixed.
	mixedNumericShare = 0.7
	// nearDuplicateCorr is the |Pearson r| at or above which two numeric
	// columns are near-duplicates.
	nearDuplicateCorr = 0.98
	// maxNearDuplicates caps the near-duplicate findings; the last one
	// counts the rest.
	maxNearDuplicates = 20
	// leakCorr is the |Pearson r| (or correlation ratio) with a numeric
	// label at or above which a feature is suspected of leaking it.
	leakCorr = 0.95
	// leakAccuracy is the single-feature accuracy on a class label at or
	// above which a feature is suspected of leaking it.
	leakAccuracy = 0.99
	// leakMinRows is the number of rows below which leakage is not judged.
	leakMinRows = 30
	// leakMinGroupRows is the average number of rows per category a
	// categorical feature needs before its purity means anything (an
	// identifier is always pure).
	leakMinGroupRows = 10
	// maxLabelClasses is the number of distinct values up to which a
	// numeric label is also treated as classes for the leakage check.
	maxLabelClasses = 20
	// maxLeakRows caps the rows the leakage check looks at; a larger table
	// is judged on a seeded sample (an accuracy near 0.99 measured on
	// 50 000 rows has a standard error below 0.0005).
	maxLeakRows = 50_000
	// leakMaxGroups coarsens a numeric feature to at most this many
	// equal-frequency groups of values for the interval classifier.
	leakMaxGroups = 256
	// MaxLeakClasses caps the classes of a label the leakage check judges
	// features against. A label with more distinct values (a free-text
	// label, unique per row) is an identifier rather than classes: a
	// feature cannot be judged on fewer than leakMinGroupRows rows per
	// class, and the interval classifier's work grows with the class count
	// (it once ran for ten minutes on a label unique in 20 000 rows).
	MaxLeakClasses = 256
	// maxMissingColumns caps the columns with missing values compared
	// pairwise for missing_together; the rest are still checked against
	// the label.
	maxMissingColumns = 256
	// coMissingRate is the share of rows missing in either column that
	// must be missing in both for two columns to be missing together
	// (the Jaccard index of their missing rows).
	coMissingRate = 0.9
	// minMissingRows is the number of missing values a column needs before
	// its missingness patterns are judged.
	minMissingRows = 10
	// missingLabelGap is the difference in missing share between two
	// classes (or the standardised mean difference of a numeric label) at
	// or above which missingness is said to depend on the label.
	missingLabelGap = 0.2
	// missingLabelEffect is the standardised difference of a numeric
	// label's mean between rows with and without a column's value at or
	// above which missingness is said to depend on the label (Cohen's
	// "medium" effect size, d = 0.5).
	missingLabelEffect = 0.5
)

// newFinding builds a finding about the given columns (the first is
// Finding.column).
func newFinding(sev datav1.Severity, code string, cols []string, value float64, msg, suggestion string, fix *datav1.CleaningOptions) *datav1.Finding {
	f := &datav1.Finding{Severity: sev, Code: code, Columns: cols, Value: value, Message: msg, Suggestion: suggestion, Fix: fix}
	if len(cols) > 0 {
		f.Column = cols[0]
	}
	return f
}

// mixedTypes reports a categorical column most of whose values are
// numbers: the CSV reader types a column as numeric only when every value
// parses, so a few stray words ("n/a?", "twelve") turn a numeric column
// into categories. Numbers are recognised by prep.ParseNumber, the rule
// parse_numeric applies.
func mixedTypes(c *table.Column, counts []*datav1.CategoryCount) *datav1.Finding {
	var numeric, total int64
	numDistinct := 0
	var others []*datav1.CategoryCount
	for _, cc := range counts {
		total += cc.Count
		if _, ok := dataprep.ParseNumber(cc.Value); ok {
			numeric += cc.Count
			numDistinct++
		} else {
			others = append(others, cc)
		}
	}
	if total == 0 || len(others) == 0 || numDistinct < 2 {
		return nil
	}
	share := float64(numeric) / float64(total)
	if share < mixedNumericShare {
		return nil
	}
	examples := make([]string, 0, 5)
	for _, cc := range others[:min(5, len(others))] {
		examples = append(examples, cc.Value)
	}
	quoted := make([]string, len(examples))
	for i, e := range examples {
		quoted[i] = strconv.Quote(e)
	}
	f := newFinding(datav1.Severity_SEVERITY_WARNING, "mixed_types", []string{c.Name}, share,
		fmt.Sprintf("%.1f%% of the values (%d of %d) are numbers, but %d are not (for example %s), so the column was read as categories.",
			100*share, numeric, total, total-numeric, strings.Join(quoted, ", ")),
		"Read it as numbers (parse_numeric): the values that are not numbers become missing and are imputed. Better still, fix them at the source.",
		&datav1.CleaningOptions{ParseNumeric: []string{c.Name}})
	f.Examples = examples
	return f
}

// nearDuplicates reports pairs of feature columns that carry the same
// information: numeric pairs with |Pearson r| ≥ 0.98 in the correlation
// matrix, and categorical pairs that are identical up to renaming their
// values (a one-to-one map between them, missing where the other is
// missing). The fix drops the later column of each pair.
func nearDuplicates(t *table.Table, corr *datav1.CorrelationMatrix, label string) []*datav1.Finding {
	var fs []*datav1.Finding
	extra := 0
	add := func(f *datav1.Finding) {
		if len(fs) < maxNearDuplicates {
			fs = append(fs, f)
		} else {
			extra++
		}
	}
	names := corr.GetColumns()
	n := len(names)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if names[i] == label || names[j] == label {
				continue
			}
			r := corr.GetValues()[i*n+j]
			if math.IsNaN(r) || math.Abs(r) < nearDuplicateCorr {
				continue
			}
			sev := datav1.Severity_SEVERITY_INFO
			if math.Abs(r) >= 0.9999 {
				sev = datav1.Severity_SEVERITY_WARNING
			}
			add(newFinding(sev, "near_duplicate_columns", []string{names[i], names[j]}, r,
				fmt.Sprintf("%q and %q are almost the same information (Pearson r = %.4f).", names[i], names[j], r),
				fmt.Sprintf("Drop one of them (the fix drops %q): linear models split the weight unpredictably between near-copies, and importance charts halve each.", names[j]),
				&datav1.CleaningOptions{DropColumns: []string{names[j]}}))
		}
	}
	var cats []*table.Column
	for _, c := range t.Columns {
		if c.IsCategorical() && c.Name != label {
			cats = append(cats, c)
		}
	}
	const maxCatPairs = 64 // columns compared pairwise at most
	if len(cats) > maxCatPairs {
		cats = cats[:maxCatPairs]
	}
	distinct := make([]int, len(cats))
	for i, c := range cats {
		distinct[i] = len(categoryCounts(c))
	}
	for i := range cats {
		for j := i + 1; j < len(cats); j++ {
			if distinct[i] != distinct[j] || distinct[i] < 2 || !relabelled(cats[i], cats[j]) {
				continue
			}
			a, b := cats[i].Name, cats[j].Name
			add(newFinding(datav1.Severity_SEVERITY_WARNING, "near_duplicate_columns", []string{a, b}, 1,
				fmt.Sprintf("%q and %q are the same column with the values renamed: each value of one always goes with the same value of the other.", a, b),
				fmt.Sprintf("Drop one of them (the fix drops %q).", b),
				&datav1.CleaningOptions{DropColumns: []string{b}}))
		}
	}
	if extra > 0 {
		fs = append(fs, newFinding(datav1.Severity_SEVERITY_INFO, "near_duplicate_columns", nil, float64(extra),
			fmt.Sprintf("%d more pairs of columns are near-duplicates.", extra),
			"See the correlation matrix.", nil))
	}
	return fs
}

// relabelled reports whether two categorical columns are one-to-one
// renamings of each other, row by row, with missing values in the same
// rows.
func relabelled(a, b *table.Column) bool {
	ab := make(map[string]string)
	ba := make(map[string]string)
	for r := range a.Codes {
		ma, mb := a.Codes[r] < 0, b.Codes[r] < 0
		if ma || mb {
			if ma != mb {
				return false
			}
			continue
		}
		va, vb := a.Dict[a.Codes[r]], b.Dict[b.Codes[r]]
		if w, ok := ab[va]; ok && w != vb {
			return false
		}
		if w, ok := ba[vb]; ok && w != va {
			return false
		}
		ab[va], ba[vb] = vb, va
	}
	return true
}

// labelClasses returns the class index of each row of a label column
// (-1 when missing) and the number of classes, or ok false when the label
// is a quantity: a numeric label with more than maxLabelClasses distinct
// values or a non-integer value.
func labelClasses(lc *table.Column) (classes []int, k int, ok bool) {
	classes = make([]int, lc.Len())
	if lc.IsCategorical() {
		byValue := make(map[string]int)
		byCode := make([]int, len(lc.Dict))
		for code, v := range lc.Dict {
			idx, seen := byValue[v]
			if !seen {
				idx = len(byValue)
				byValue[v] = idx
			}
			byCode[code] = idx
		}
		for r, code := range lc.Codes {
			classes[r] = -1
			if code >= 0 {
				classes[r] = byCode[code]
			}
		}
		return classes, len(byValue), true
	}
	byValue := make(map[float64]int)
	for r, v := range lc.Nums {
		classes[r] = -1
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if v != math.Trunc(v) {
			return nil, 0, false
		}
		if v == 0 {
			v = 0
		}
		idx, seen := byValue[v]
		if !seen {
			if len(byValue) == maxLabelClasses {
				return nil, 0, false
			}
			idx = len(byValue)
			byValue[v] = idx
		}
		classes[r] = idx
	}
	return classes, len(byValue), true
}

// leakage reports features that predict the label almost perfectly on
// their own, which in real data usually means the feature was recorded
// after the fact (a "leak") and will not be available at prediction time.
//
// For a class label (categorical, boolean, or numeric with at most 20
// whole-number values) a feature's single-feature accuracy is measured:
//   - numeric: the best classifier that cuts the feature's range into at
//     most k intervals (k = number of classes), each predicting one class —
//     a decision stump with k-1 thresholds — found exactly by dynamic
//     programming over the sorted values (coarsened to at most 256
//     equal-frequency groups of equal values); accuracy ≥ 0.99 is a leak;
//   - categorical: the category→label purity, the share of rows whose
//     class is the majority class of their category; ≥ 0.99 is a leak,
//     judged only when categories average at least 10 rows.
//
// For a numeric label, a numeric feature leaks when |Pearson r| ≥ 0.95, a
// categorical one when Fisher's correlation ratio η ≥ 0.95 (η² is the
// share of the label's variance explained by the category means).
// Tables over 50 000 rows are judged on a seeded sample of 50 000 rows.
//
// A class label with more than MaxLeakClasses classes, or fewer than
// leakMinGroupRows rows per class, is not judged. The work is
// O(rows·log rows) per feature plus, for the interval classifier,
// O(G²·k) with G ≤ 257 groups and k ≤ MaxLeakClasses classes.
func leakage(w *work, t *table.Table, label string) ([]*datav1.Finding, error) {
	if lc, _ := t.Column(label); lc == nil {
		return nil, nil
	}
	if t.NumRows() > maxLeakRows {
		t = t.Take(sampleRows(t.NumRows(), maxLeakRows))
	}
	lc, _ := t.Column(label)
	var fs []*datav1.Finding
	classes, k, isClass := labelClasses(lc)
	if lc.Type == datav1.ColumnType_COLUMN_TYPE_NUMERIC && k > maxLabelClasses {
		isClass = false
	}
	if isClass && (k > MaxLeakClasses || k*leakMinGroupRows > t.NumRows()) {
		return nil, w.step(t.NumRows())
	}
	for _, c := range t.Columns {
		if c.Name == label {
			continue
		}
		if err := w.step(t.NumRows()); err != nil {
			return nil, err
		}
		var score float64
		var method string
		judged := false
		switch {
		case isClass && k >= 2 && c.IsCategorical():
			score, judged = categoryPurity(c, classes, k)
			method = "the majority class of each of its categories"
		case isClass && k >= 2:
			var err error
			if score, judged, err = intervalAccuracy(w, c.Nums, classes, k); err != nil {
				return nil, err
			}
			method = "a single threshold on it"
			if k > 2 {
				method = fmt.Sprintf("%d thresholds on it (one interval per class)", k-1)
			}
		case !isClass && c.IsCategorical():
			score, judged = correlationRatio(c, lc.Nums)
			method = "its category means (correlation ratio η)"
		case !isClass:
			score, judged = pairedPearson(c.Nums, lc.Nums)
			method = "a straight line (|Pearson r|)"
		}
		if !judged {
			continue
		}
		limit := leakAccuracy
		if !isClass {
			limit = leakCorr
			score = math.Abs(score)
		}
		if score < limit {
			continue
		}
		what := fmt.Sprintf("accuracy %.4f", score)
		if !isClass {
			what = fmt.Sprintf("%.4f", score)
		}
		fs = append(fs, newFinding(datav1.Severity_SEVERITY_ERROR, "label_leakage", []string{c.Name, label}, score,
			fmt.Sprintf("%q alone predicts the label %q almost perfectly: %s gives %s.", c.Name, label, method, what),
			"A feature this good is usually recorded after the outcome (or derived from it) and will not be known when predicting. Drop it unless you are sure it is available in advance.",
			&datav1.CleaningOptions{DropColumns: []string{c.Name}}))
	}
	return fs, nil
}

// categoryPurity is the share of rows (both present) whose class is the
// majority class of their category.
func categoryPurity(c *table.Column, classes []int, k int) (float64, bool) {
	// Count (category, class) pairs sparsely: memory follows the rows, not
	// categories × classes.
	counts := make(map[[2]int]int)
	cats := make(map[int]bool)
	n := 0
	for r, code := range c.Codes {
		if code < 0 || classes[r] < 0 {
			continue
		}
		counts[[2]int{int(code), classes[r]}]++
		cats[int(code)] = true
		n++
	}
	if n < leakMinRows || len(cats) < 2 || len(cats)*leakMinGroupRows > n {
		return 0, false
	}
	best := make(map[int]int, len(cats))
	for key, v := range counts {
		best[key[0]] = max(best[key[0]], v)
	}
	right := 0
	for _, v := range best {
		right += v
	}
	return float64(right) / float64(n), true
}

// intervalAccuracy is the accuracy of the best classifier that splits the
// feature's range into at most k intervals, each predicting one class.
// Rows are sorted by value and grouped so that equal values stay together,
// and coarsened to at most leakMaxGroups groups of about equal size; the
// optimum over group boundaries is found by dynamic programming:
// best[s][g] = max over g' < g of best[s-1][g'] + majority(g'+1 … g),
// with the majority count of every run of groups computed once (O(G²·k))
// so that the recursion itself is O(k·G²) additions.
func intervalAccuracy(w *work, x []float64, classes []int, k int) (float64, bool, error) {
	type pair struct {
		v float64
		c int
	}
	ps := make([]pair, 0, len(x))
	for r, v := range x {
		if classes[r] >= 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
			ps = append(ps, pair{v, classes[r]})
		}
	}
	n := len(ps)
	if n < leakMinRows {
		return 0, false, nil
	}
	slices.SortFunc(ps, func(a, b pair) int { return cmp.Compare(a.v, b.v) })
	// Group equal values, then merge neighbours up to about n/leakMaxGroups
	// rows per group.
	target := max(1, n/leakMaxGroups)
	var groups [][]int // class counts per group
	cur := make([]int, k)
	size := 0
	for i, p := range ps {
		cur[p.c]++
		size++
		last := i == n-1 || ps[i+1].v != p.v
		if last && (size >= target || i == n-1) {
			groups = append(groups, cur)
			cur = make([]int, k)
			size = 0
		}
	}
	if len(groups) < 2 {
		return 0, false, nil
	}
	G := len(groups)
	// maj[h*(G+1)+g] is the majority class count of groups [h, g).
	maj := make([]int, (G+1)*(G+1))
	acc := make([]int, k)
	for g := 1; g <= G; g++ {
		if err := w.step(g * k); err != nil {
			return 0, false, err
		}
		clear(acc)
		best := 0
		for h := g - 1; h >= 0; h-- {
			for c, v := range groups[h] {
				acc[c] += v
				best = max(best, acc[c])
			}
			maj[h*(G+1)+g] = best
		}
	}
	segs := min(k, G)
	prev := make([]int, G+1) // best with s segments covering groups [0, g)
	next := make([]int, G+1)
	for g := 1; g <= G; g++ {
		prev[g] = -1
	}
	for s := 1; s <= segs; s++ {
		if err := w.step(G * G); err != nil {
			return 0, false, err
		}
		next[0] = 0
		for g := 1; g <= G; g++ {
			next[g] = prev[g]         // fewer segments are allowed
			for h := g; h >= 1; h-- { // last segment is groups [h-1, g)
				if prev[h-1] >= 0 {
					next[g] = max(next[g], prev[h-1]+maj[(h-1)*(G+1)+g])
				}
			}
		}
		prev, next = next, prev
	}
	return float64(prev[G]) / float64(n), true, nil
}

// correlationRatio is Fisher's correlation ratio η of a numeric label y on
// a categorical feature: sqrt(between-category sum of squares / total sum
// of squares), over the rows where both are present.
func correlationRatio(c *table.Column, y []float64) (float64, bool) {
	type acc struct {
		n   int
		sum float64
	}
	groups := make(map[string]*acc)
	var vals []float64
	var keys []string
	for r, code := range c.Codes {
		v := y[r]
		if code < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		key := c.Dict[code]
		a := groups[key]
		if a == nil {
			a = &acc{}
			groups[key] = a
		}
		a.n++
		a.sum += v
		vals = append(vals, v)
		keys = append(keys, key)
	}
	n := len(vals)
	if n < leakMinRows || len(groups) < 2 || len(groups)*leakMinGroupRows > n {
		return 0, false
	}
	var mean float64
	for _, v := range vals {
		mean += v
	}
	mean /= float64(n)
	var total, within float64
	for i, v := range vals {
		a := groups[keys[i]]
		gm := a.sum / float64(a.n)
		total += (v - mean) * (v - mean)
		within += (v - gm) * (v - gm)
	}
	if !(total > 0) {
		return 0, false
	}
	return math.Sqrt(max(0, 1-within/total)), true
}

// pairedPearson is Pearson's r over the rows where both x and y are
// present and finite.
func pairedPearson(x, y []float64) (float64, bool) {
	xs := make([]float64, 0, len(x))
	ys := make([]float64, 0, len(x))
	for r, v := range x {
		w := y[r]
		if math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(w) || math.IsInf(w, 0) {
			continue
		}
		xs, ys = append(xs, v), append(ys, w)
	}
	if len(xs) < leakMinRows {
		return 0, false
	}
	r := pearson(xs, ys)
	return r, !math.IsNaN(r)
}

// missingPatterns reports columns whose values go missing together (the
// Jaccard index of their missing rows is at least 0.9), and columns whose
// missingness depends on the label — then imputation erases a signal and
// the model learns from a gap that may close in production.
func missingPatterns(w *work, t *table.Table, label string) ([]*datav1.Finding, error) {
	var fs []*datav1.Finding
	type miss struct {
		c    *table.Column
		rows []int
	}
	var ms []miss
	for _, c := range t.Columns {
		if c.Name == label {
			continue
		}
		if err := w.step(c.Len()); err != nil {
			return nil, err
		}
		var rows []int
		for r := 0; r < c.Len(); r++ {
			if c.IsMissing(r) {
				rows = append(rows, r)
			}
		}
		if len(rows) >= minMissingRows && len(rows) < c.Len() {
			ms = append(ms, miss{c, rows})
		}
	}
	// Group columns missing together, greedily around the first column of
	// each group.
	used := make([]bool, len(ms))
	paired := min(len(ms), maxMissingColumns)
	for i := range paired {
		if used[i] {
			continue
		}
		group := []string{ms[i].c.Name}
		worst := 1.0
		for j := i + 1; j < paired; j++ {
			if used[j] {
				continue
			}
			if err := w.step(len(ms[i].rows) + len(ms[j].rows)); err != nil {
				return nil, err
			}
			if jac := jaccard(ms[i].rows, ms[j].rows); jac >= coMissingRate {
				group = append(group, ms[j].c.Name)
				used[j] = true
				worst = min(worst, jac)
			}
		}
		if len(group) > 1 {
			quoted := make([]string, len(group))
			for k, g := range group {
				quoted[k] = strconv.Quote(g)
			}
			fs = append(fs, newFinding(datav1.Severity_SEVERITY_INFO, "missing_together", group, worst,
				fmt.Sprintf("%s are missing in the same rows (at least %.0f%% of the rows where one is missing, the others are too).", strings.Join(quoted, ", "), 100*worst),
				"They probably come from one source that failed for those rows; find out why before imputing, and consider dropping the rows or the columns together.",
				nil))
		}
	}
	lc, _ := t.Column(label)
	if lc == nil {
		return fs, nil
	}
	classes, k, isClass := labelClasses(lc)
	for _, m := range ms {
		if err := w.step(lc.Len() + k); err != nil {
			return nil, err
		}
		if isClass && k >= 2 {
			missing := make([]int, k)
			total := make([]int, k)
			for _, c := range classes {
				if c >= 0 {
					total[c]++
				}
			}
			for _, r := range m.rows {
				if c := classes[r]; c >= 0 {
					missing[c]++
				}
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			loC, hiC := 0, 0
			for c := range k {
				if total[c] < minMissingRows {
					continue
				}
				s := float64(missing[c]) / float64(total[c])
				if s < lo {
					lo, loC = s, c
				}
				if s > hi {
					hi, hiC = s, c
				}
			}
			if hi-lo >= missingLabelGap {
				fs = append(fs, newFinding(datav1.Severity_SEVERITY_WARNING, "missing_depends_on_label", []string{m.c.Name, label}, hi-lo,
					fmt.Sprintf("Whether %q is missing depends on the label: it is missing in %.0f%% of the rows of class %s but %.0f%% of class %s.",
						m.c.Name, 100*hi, className(lc, classes, hiC), 100*lo, className(lc, classes, loC)),
					"The gap itself predicts the label. Find out why values are missing; if the gap will not exist when predicting, impute with a constant that stands out, or drop the column.",
					nil))
			}
			continue
		}
		if lc.IsCategorical() {
			continue
		}
		// Numeric label: standardised difference of the label's mean
		// between rows where the column is missing and where it is not.
		isMissing := make([]bool, lc.Len())
		for _, r := range m.rows {
			isMissing[r] = true
		}
		var a, b []float64
		for r, v := range lc.Nums {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if isMissing[r] {
				a = append(a, v)
			} else {
				b = append(b, v)
			}
		}
		if len(a) < minMissingRows || len(b) < minMissingRows {
			continue
		}
		all := append(append([]float64(nil), a...), b...)
		sd := stdDev(all)
		if !(sd > 0) {
			continue
		}
		d := (meanOf(a) - meanOf(b)) / sd
		if math.Abs(d) >= missingLabelEffect {
			fs = append(fs, newFinding(datav1.Severity_SEVERITY_WARNING, "missing_depends_on_label", []string{m.c.Name, label}, d,
				fmt.Sprintf("Whether %q is missing depends on the label: the label's mean is %.2f standard deviations %s where the column is missing.", m.c.Name, math.Abs(d), map[bool]string{true: "higher", false: "lower"}[d > 0]),
				"The gap itself predicts the label. Find out why values are missing; if the gap will not exist when predicting, impute with a constant that stands out, or drop the column.",
				nil))
		}
	}
	return fs, nil
}

// className is the text of class index k of a label column.
func className(lc *table.Column, classes []int, k int) string {
	for r, c := range classes {
		if c == k {
			return strconv.Quote(lc.Text(r))
		}
	}
	return strconv.Itoa(k)
}

// jaccard is |a ∩ b| / |a ∪ b| of two increasing index lists.
func jaccard(a, b []int) float64 {
	i, j, both := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			both++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}

func meanOf(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// stdDev is the population standard deviation.
func stdDev(x []float64) float64 {
	m := meanOf(x)
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt(ss / float64(len(x)))
}

func maxInt(xs []int) int {
	m := 0
	for _, v := range xs {
		m = max(m, v)
	}
	return m
}
