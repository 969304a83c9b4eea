package selection

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPlanValidation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rows      int
		specFolds int
		budget    time.Duration
		folds     int
		wantB     time.Duration
		reason    string
	}{
		{"small data", 178, 0, 0, 5, time.Minute, "5-fold cross-validation on the 178"},
		{"at the limit", 10000, 0, 0, 5, time.Minute, "5-fold"},
		{"large data", 10001, 0, 0, 0, 5 * time.Minute, "holdout validation (10001 rows"},
		{"spec folds", 50000, 10, 0, 10, 5 * time.Minute, "10-fold cross-validation on 50000 rows, as the spec asks"},
		{"spec budget", 100, 0, 20 * time.Second, 5, 20 * time.Second, "time budget 20s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanValidation(tc.rows, tc.specFolds, tc.budget)
			if p.Folds != tc.folds || p.TimeBudget != tc.wantB || !strings.Contains(p.Reason, tc.reason) {
				t.Fatalf("PlanValidation = %+v, want %d folds, %v, reason with %q", p, tc.folds, tc.wantB, tc.reason)
			}
		})
	}
}

func TestIDLike(t *testing.T) {
	seq := func(n int, start, step float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = start + float64(i)*step
		}
		return v
	}
	shuffled := seq(100, 1000, 1)
	for i := range shuffled {
		j := (i * 37) % len(shuffled)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	codes := make([]float64, 100)
	for i := range codes {
		codes[i] = float64(i % 7)
	}
	measured := seq(100, 0.5, 0.25)
	measured[50] = 3 // breaks the steps
	withNaN := seq(30, 1, 1)
	withNaN[3] = math.NaN()
	for _, tc := range []struct {
		name   string
		values []float64
		want   bool
		reason string
	}{
		{"row counter", seq(50, 1, 1), true, "row counter"},
		{"counter with a gap", withNaN, true, "29 distinct whole numbers in 29 rows"},
		{"shuffled ids", shuffled, true, "100 distinct whole numbers in 100 rows"},
		{"class codes", codes, false, ""},
		{"fractions", measured, false, ""},
		{"too few rows", seq(10, 1, 1), false, ""},
		{"constant", make([]float64, 50), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := IDLike("customer_id", tc.values)
			if got != tc.want || !strings.Contains(why, tc.reason) {
				t.Fatalf("IDLike = %v, %q; want %v with %q", got, why, tc.want, tc.reason)
			}
		})
	}
}
