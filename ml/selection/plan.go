package selection

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// The validation rule: k-fold cross-validation on the train and validation
// rows together when they are few enough that one validation split would
// decide on a handful of rows and k fits are cheap; a plain holdout above.
const (
	// DefaultFolds is k for cross-validation by default.
	DefaultFolds = 5
	// MaxCVRows is the most train+validation rows cross-validated by
	// default; above it the validation split alone holds thousands of rows.
	MaxCVRows = 10000
	// SmallDataBudget is the default time budget up to MaxCVRows rows, and
	// LargeDataBudget above.
	SmallDataBudget = 60 * time.Second
	LargeDataBudget = 300 * time.Second
)

// Plan is how trials are validated and how long the search may run, with
// the reason, for a finding and a line of `alur run`.
type Plan struct {
	// Folds is k for cross-validation, 0 for the holdout validation rows.
	Folds int
	// TimeBudget bounds the search.
	TimeBudget time.Duration
	Reason     string
}

// PlanValidation applies the validation rule to rows (train + validation)
// and the spec's cv_folds (0: unset, the rule decides; 1 would be refused
// by spec validation) and time budget (0: the default).
func PlanValidation(rows int, specFolds int, budget time.Duration) Plan {
	p := Plan{Folds: specFolds, TimeBudget: budget}
	if p.TimeBudget <= 0 {
		p.TimeBudget = SmallDataBudget
		if rows > MaxCVRows {
			p.TimeBudget = LargeDataBudget
		}
	}
	switch {
	case specFolds >= 2:
		p.Reason = fmt.Sprintf("%d-fold cross-validation on %d rows, as the spec asks", specFolds, rows)
	case rows <= MaxCVRows:
		p.Folds = DefaultFolds
		p.Reason = fmt.Sprintf("%d-fold cross-validation on the %d train and validation rows (at most %d rows: one validation split would decide on too few)",
			DefaultFolds, rows, MaxCVRows)
	default:
		p.Reason = fmt.Sprintf("holdout validation (%d rows, more than %d: the validation split is large enough)", rows, MaxCVRows)
	}
	p.Reason += fmt.Sprintf("; time budget %s", p.TimeBudget)
	return p
}

// IDLikeShare is the share of distinct whole numbers above which a numeric
// column reads as an identifier.
const IDLikeShare = 0.9

// minIDRows is the fewest present values on which IDLike judges.
const minIDRows = 20

// IDLike reports whether a numeric column looks like a row identifier
// rather than a measurement, and why: its present values are whole numbers
// and more than 90 % of them are distinct, or they count up in equal steps
// in row order (a row counter, which leaks the order the file was written
// in). Such a column is dropped by default with a note; --keep keeps it.
func IDLike(name string, values []float64) (bool, string) {
	var present []float64
	whole := true
	for _, v := range values {
		if math.IsNaN(v) {
			continue
		}
		present = append(present, v)
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			whole = false
		}
	}
	n := len(present)
	if n < minIDRows {
		return false, ""
	}
	if step := present[1] - present[0]; step != 0 {
		counter := true
		for i := 2; i < n; i++ {
			if present[i]-present[i-1] != step {
				counter = false
				break
			}
		}
		if counter {
			return true, fmt.Sprintf("column %q counts from %g in steps of %g in row order: a row counter, dropped (--keep %s keeps it)", name, present[0], step, name)
		}
	}
	if !whole {
		return false, ""
	}
	s := append([]float64(nil), present...)
	sort.Float64s(s)
	distinct := 1
	for i := 1; i < n; i++ {
		if s[i] != s[i-1] {
			distinct++
		}
	}
	if float64(distinct) > IDLikeShare*float64(n) {
		return true, fmt.Sprintf("column %q holds %d distinct whole numbers in %d rows (over %g%%): an identifier, dropped (--keep %s keeps it)",
			name, distinct, n, 100*IDLikeShare, name)
	}
	return false, ""
}
