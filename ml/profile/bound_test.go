package profile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/table"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// hostileCSV writes a rows-row CSV whose text label has classes distinct
// values (rows of them: unique per row), with five numeric features and
// one categorical, and reads it back.
func hostileCSV(t *testing.T, rows, classes int) *table.Table {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("label,x1,x2,x3,x4,x5,city\n")
	for r := range rows {
		fmt.Fprintf(&b, "class-%d-of-the-label,%d,%g,%g,%g,%d,c%d\n", r%classes, r, rng.Float64(), rng.NormFloat64(), float64(r%97), rng.IntN(5), rng.IntN(40))
	}
	path := filepath.Join(t.TempDir(), "hostile.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return readCSV(t, path)
}

// TestProfileWorkBounded profiles 20 000 rows whose text label is unique
// per row (and, at the class cap, 256 classes): the work, counted in steps
// of about one value touched, stays within a bound linear in the table's
// size plus the documented pairwise caps. Before the class cap and the
// precomputed majorities, the unique label took about 3·10¹¹ steps in
// the interval classifier alone.
func TestProfileWorkBounded(t *testing.T) {
	const rows = 20_000
	for _, tc := range []struct {
		name    string
		classes int
		max     int64
	}{
		{"unique label per row", rows, 2_000_000},
		{"classes at the cap", MaxLeakClasses, 150_000_000},
		{"three classes", 3, 2_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := hostileCSV(t, rows, tc.classes)
			p, steps, err := profile(&work{ctx: context.Background()}, tb, &prepv1.ProfileOptions{Label: "label"})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.GetColumns()) != 7 {
				t.Fatalf("%d column profiles", len(p.GetColumns()))
			}
			t.Logf("%d steps", steps)
			if steps > tc.max {
				t.Fatalf("%d steps, want at most %d", steps, tc.max)
			}
		})
	}
}

// countdown is a context that reports Canceled from its n-th Err call on
// and notes the work counted when it first did.
type countdown struct {
	context.Context
	n       int
	w       *work
	firedAt int64
	fired   bool
}

func (c *countdown) Err() error {
	if c.n--; c.n > 0 {
		return nil
	}
	if !c.fired {
		c.fired, c.firedAt = true, c.w.steps
	}
	return context.Canceled
}

// TestProfileStopsOnCancel cancels a profile of the unique-label table
// (and one at the class cap) at several points: it returns
// context.Canceled, and the work done after the cancellation is at most
// one loop iteration's steps.
func TestProfileStopsOnCancel(t *testing.T) {
	const rows = 20_000
	const maxAfter = 1 << 20
	for _, classes := range []int{rows, MaxLeakClasses} {
		tb := hostileCSV(t, rows, classes)
		for _, after := range []int{1, 2, 5, 10, 20, 50, 200, 1000} {
			t.Run(fmt.Sprintf("%d classes, cancelled at check %d", classes, after), func(t *testing.T) {
				ctx := &countdown{Context: context.Background(), n: after}
				ctx.w = &work{ctx: ctx}
				_, steps, err := profile(ctx.w, tb, &prepv1.ProfileOptions{Label: "label"})
				if !ctx.fired {
					if err != nil {
						t.Fatal(err)
					}
					return // finished before this many checks
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("got %v, want context.Canceled", err)
				}
				if steps-ctx.firedAt > maxAfter {
					t.Fatalf("%d steps after the cancellation, want at most %d", steps-ctx.firedAt, maxAfter)
				}
			})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ProfileContext(ctx, hostileCSV(t, 100, 100), &prepv1.ProfileOptions{Label: "label"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before the start: got %v", err)
	}
}
