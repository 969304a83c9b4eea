package dataprep

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// Splits are the row indexes of the three row sets. Each set is in a
// seeded random order, like scikit-learn's train_test_split, so that
// tables sorted by class do not reach a model sorted.
type Splits struct {
	Train, Validation, Test []int
	// LabelMissing counts the rows left out because their label is missing.
	LabelMissing int
}

// splitKind is the row set a row belongs to.
type splitKind uint8

const (
	toTrain splitKind = iota
	toValidation
	toTest
)

// Split assigns the rows of t whose label is present to train, validation
// and test, as PrepareOptions describe.
//
// Without split_column, classification splits are stratified: every class
// contributes to test and validation in proportion to its size, with the
// split totals round(n*test_fraction) and round(n*validation_fraction)
// distributed over the classes by the largest-remainder (Hamilton) method,
// and every class keeps at least one train row so that the transform learns
// every class. Regression splits are a plain shuffle. Each split holds at
// least one row; when the table is too small for that, Split says so.
//
// With split_column, rows say which set they belong to ("train",
// "validation"/"valid"/"val", "test", case-insensitive; anything else is
// train). When no row is marked for validation, validation_fraction of the
// train rows are drawn (stratified for classification).
//
// The order is reproducible for a seed across platforms and Go releases:
// the shuffles use a PCG generator and a Fisher–Yates shuffle written here,
// not the standard library's, whose exact sequence may change.
func Split(t *table.Table, opts *prepv1.PrepareOptions) (*Splits, error) {
	if err := ValidateOptions(opts); err != nil {
		return nil, err
	}
	if t == nil || t.NumRows() == 0 {
		return nil, errors.New("the table has no rows")
	}
	idx := columnIndex(t)
	all := make([]int, t.NumRows())
	for i := range all {
		all[i] = i
	}
	li, err := analyzeLabel(t, idx, all, opts)
	if err != nil {
		return nil, err
	}
	if err := checkColumnsExist(t, opts); err != nil {
		return nil, err
	}
	rng := newRand(opts.GetSeed())
	assign := make([]splitKind, t.NumRows())
	if sc := opts.GetSplitColumn(); sc != "" {
		if err := assignFromColumn(t.Columns[idx[sc]], li, opts, rng, assign); err != nil {
			return nil, err
		}
	} else if err := assignRandom(li, opts, rng, assign); err != nil {
		return nil, err
	}
	s := &Splits{LabelMissing: li.missing}
	for _, r := range li.present {
		switch assign[r] {
		case toTrain:
			s.Train = append(s.Train, r)
		case toValidation:
			s.Validation = append(s.Validation, r)
		case toTest:
			s.Test = append(s.Test, r)
		}
	}
	shuffle(rng, s.Train)
	shuffle(rng, s.Validation)
	shuffle(rng, s.Test)
	return s, nil
}

// assignRandom draws test and validation rows from all labelled rows.
func assignRandom(li *labelInfo, o *prepv1.PrepareOptions, rng *rand.PCG, assign []splitKind) error {
	vf, tf := fractions(o)
	groups := li.groups()
	n := len(li.present)
	test, val, ok := allocateSplits(groups, n, tf, vf, true)
	if !ok {
		return tooFewRows(li, n)
	}
	for g, rows := range groups {
		rows = append([]int(nil), rows...)
		shuffle(rng, rows)
		for j, r := range rows {
			switch {
			case j < test[g]:
				assign[r] = toTest
			case j < test[g]+val[g]:
				assign[r] = toValidation
			}
		}
	}
	return nil
}

// assignFromColumn reads the split from a column and, when it marks no
// validation rows, draws them from the train rows.
func assignFromColumn(sc *table.Column, li *labelInfo, o *prepv1.PrepareOptions, rng *rand.PCG, assign []splitKind) error {
	var counts [3]int
	for _, r := range li.present {
		k := toTrain
		if !sc.IsMissing(r) {
			switch strings.ToLower(strings.TrimSpace(sc.Text(r))) {
			case "validation", "valid", "val":
				k = toValidation
			case "test":
				k = toTest
			}
		}
		assign[r] = k
		counts[k]++
	}
	name := o.GetSplitColumn()
	if counts[toTrain] == 0 {
		return optErr("options.split_column", "column %q marks no labelled row as train", name)
	}
	if counts[toTest] == 0 {
		return optErr("options.split_column", "column %q marks no labelled row as test", name)
	}
	if counts[toValidation] == 0 {
		vf, _ := fractions(o)
		train := &labelInfo{col: li.col, task: li.task, classes: li.classes}
		for _, r := range li.present {
			if assign[r] == toTrain {
				train.present = append(train.present, r)
			}
		}
		groups := train.groups()
		_, val, ok := allocateSplits(groups, len(train.present), 0, vf, false)
		if !ok {
			return optErr("options.split_column", "column %q marks no validation rows and its %d train rows are too few to draw validation rows from while keeping a train row per class", name, len(train.present))
		}
		for g, rows := range groups {
			rows = append([]int(nil), rows...)
			shuffle(rng, rows)
			for _, r := range rows[:val[g]] {
				assign[r] = toValidation
			}
		}
	}
	if li.task != datav1.Task_TASK_CLASSIFICATION {
		return nil
	}
	inTrain := make(map[string]bool)
	for _, r := range li.present {
		if assign[r] == toTrain {
			inTrain[classKey(li.col, r)] = true
		}
	}
	for _, r := range li.present {
		if k := classKey(li.col, r); assign[r] != toTrain && !inTrain[k] {
			set := "test"
			if assign[r] == toValidation {
				set = "validation"
			}
			return optErr("options.split_column", "class %q occurs in %s rows (row %d) but in no train row, so no model could learn it", k, set, r)
		}
	}
	return nil
}

// groups partitions the present rows into strata: one per class for
// classification, a single one for regression. Strata are in class order so
// that the draw is deterministic.
func (li *labelInfo) groups() [][]int {
	if li.task != datav1.Task_TASK_CLASSIFICATION {
		return [][]int{li.present}
	}
	pos := make(map[string]int, len(li.classes))
	for i, c := range li.classes {
		pos[c] = i
	}
	out := make([][]int, len(li.classes))
	for _, r := range li.present {
		k := pos[classKey(li.col, r)]
		out[k] = append(out[k], r)
	}
	return out
}

// allocateSplits decides how many rows of each stratum go to test and to
// validation: round(n*fraction) in total (at least one row each), spread
// over the strata by the largest-remainder method. Every stratum keeps at
// least one train row: for classes this means the transform learns every
// class; for the single regression stratum it means train is not empty.
// No test rows are drawn unless wantTest. ok is false when a requested
// split would be empty.
func allocateSplits(groups [][]int, n int, tf, vf float64, wantTest bool) (test, val []int, ok bool) {
	caps := make([]int, len(groups))
	for g, rows := range groups {
		caps[g] = max(len(rows)-1, 0)
	}
	test = make([]int, len(groups))
	if wantTest {
		test = allocate(targetCount(n, tf, caps), quotas(groups, tf), caps)
		if sum(test) == 0 {
			return nil, nil, false
		}
		for g := range caps {
			caps[g] -= test[g]
		}
	}
	val = allocate(targetCount(n, vf, caps), quotas(groups, vf), caps)
	if sum(val) == 0 {
		return nil, nil, false
	}
	return test, val, true
}

// targetCount is round(n*frac), at least 1, at most the room left.
func targetCount(n int, frac float64, caps []int) int {
	return min(max(int(math.Round(float64(n)*frac)), 1), sum(caps))
}

func quotas(groups [][]int, frac float64) []float64 {
	q := make([]float64, len(groups))
	for g, rows := range groups {
		q[g] = float64(len(rows)) * frac
	}
	return q
}

// allocate distributes total units over groups in proportion to their
// quotas by the largest-remainder (Hamilton) method: every group first gets
// the whole part of its quota, then the groups with the largest remainders
// get one more each (ties to the group with more room left, then the
// earlier group). No group exceeds its cap;
// units a capped group cannot take go to the next groups in line.
func allocate(total int, quota []float64, caps []int) []int {
	out := make([]int, len(quota))
	given := 0
	for g, q := range quota {
		out[g] = min(int(math.Floor(q)), caps[g])
		given += out[g]
	}
	for given > total { // defensive: floors never exceed a rounded total
		for g := len(out) - 1; g >= 0 && given > total; g-- {
			if out[g] > 0 {
				out[g]--
				given--
			}
		}
	}
	order := make([]int, len(quota))
	for g := range order {
		order[g] = g
	}
	sort.SliceStable(order, func(a, b int) bool {
		ga, gb := order[a], order[b]
		ra, rb := quota[ga]-float64(out[ga]), quota[gb]-float64(out[gb])
		if ra != rb {
			return ra > rb
		}
		return caps[ga]-out[ga] > caps[gb]-out[gb] // equal claims: the roomier group
	})
	for given < total {
		progressed := false
		for _, g := range order {
			if given == total {
				break
			}
			if out[g] < caps[g] {
				out[g]++
				given++
				progressed = true
			}
		}
		if !progressed {
			break
		}
	}
	return out
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func tooFewRows(li *labelInfo, n int) error {
	if li.task == datav1.Task_TASK_CLASSIFICATION {
		return fmt.Errorf("%d labelled rows in %d classes are too few to split into non-empty train, validation and test sets while keeping a train row per class", n, len(li.classes))
	}
	return fmt.Errorf("%d labelled rows are too few to split into non-empty train, validation and test sets (need at least 3)", n)
}

// newRand returns the generator every shuffle of a split draws from.
func newRand(seed int64) *rand.PCG {
	return rand.NewPCG(uint64(seed), 0x616c75722d707265) // "alur-pre"
}

// shuffle is the Fisher–Yates shuffle (Knuth, TAOCP vol. 2, Algorithm P).
func shuffle(rng *rand.PCG, xs []int) {
	for i := len(xs) - 1; i > 0; i-- {
		j := boundedRand(rng, uint64(i)+1)
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// boundedRand returns a uniform integer in [0, n) by Lemire's multiply and
// reject method ("Fast Random Integer Generation in an Interval", ACM TOMACS
// 2019), which has no modulo bias.
func boundedRand(rng *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(rng.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(rng.Uint64(), n)
		}
	}
	return hi
}
