package orchestrator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/tablepb"
)

// TestDatasetStoreGrowsLinearly appends 20 equal batches: every version
// stays readable, and each append adds about the same to the store (the
// batch, its upload and the version's new block), not the whole table.
// Storing each version whole made the 20th append cost 20 batches and the
// store hold about 20²/2 of them.
func TestDatasetStoreGrowsLinearly(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	srv, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	const batches, rows = 20, 2000
	var sizes []int64
	for b := range batches {
		var csv strings.Builder
		csv.WriteString("x,y,kind\n")
		for r := range rows {
			i := b*rows + r
			fmt.Fprintf(&csv, "%d,%.6f,k%d\n", i, float64(i)*0.37, (i*7)%13)
		}
		v, err := appendUpload(t, client, "growing", csv.String())
		if err != nil {
			t.Fatalf("append %d: %v", b+1, err)
		}
		if v.GetRows() != int64((b+1)*rows) {
			t.Fatalf("append %d: %d rows", b+1, v.GetRows())
		}
		u, err := srv.Store().Usage()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, u.Bytes)
	}
	// What each append adds: with shared batches about the same every
	// time (the batch, its upload and one new block); with whole versions
	// it grew with the table, the 20th adding about ten times the 2nd.
	second := sizes[1] - sizes[0]
	last := sizes[batches-1] - sizes[batches-2]
	t.Logf("store after 1 append: %d bytes; the 2nd added %d, the %dth %d; after %d: %d bytes",
		sizes[0], second, batches, last, batches, sizes[batches-1])
	if last > 2*second {
		t.Fatalf("the %dth append added %d bytes, the 2nd %d: the store grows faster than the data", batches, last, second)
	}
	if total := sizes[batches-1]; total > sizes[0]+int64(batches)*second*3/2 {
		t.Fatalf("after %d appends the store holds %d bytes, more than %d appends of %d", batches, total, batches, second)
	}
	// Old versions still read back whole.
	for _, v := range []int64{1, 7, batches} {
		dv, err := srv.Store().DatasetVersion("growing", v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := srv.Store().ReadArtifact(dv.GetArtifactDigest())
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		tb, err := tablepb.UnmarshalDelimited(b)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if tb.NumRows() != int(v)*rows {
			t.Fatalf("version %d reads %d rows, want %d", v, tb.NumRows(), int(v)*rows)
		}
	}
	if problems, err := srv.Store().Check(); err != nil || len(problems) != 0 {
		t.Fatalf("check: %q, %v", problems, err)
	}
}
