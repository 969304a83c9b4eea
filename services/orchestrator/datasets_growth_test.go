package orchestrator

import (
	"fmt"
	"strings"
	"testing"
)

// TestDatasetStoreGrowsLinearly appends 20 equal batches: every version
// stays readable, and the store grows by about the same amount per append
// (the batch, its upload and the version's new block), not by the whole
// table each time. Storing each version whole made the 20th append cost
// 20 batches and the store hold about 20²/2 of them.
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
		u, err := srv.store.Usage()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, u.Bytes)
	}
	first := sizes[0]
	last := sizes[batches-1]
	t.Logf("store after 1 append: %d bytes; after %d: %d bytes (%.1f × the first)", first, batches, last, float64(last)/float64(first))
	// Linear growth gives about 20 × the first append; whole versions
	// gave about 120 ×.
	if last > 25*first {
		t.Fatalf("after %d appends the store holds %d bytes, %.1f times the first append's %d: it grows faster than the data", batches, last, float64(last)/float64(first), first)
	}
	// Old versions still read back whole.
	for _, v := range []int64{1, 7, batches} {
		dv, err := srv.store.DatasetVersion("growing", v)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := srv.readStoredTable(dv.GetArtifactDigest())
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if tb.NumRows() != int(v)*rows {
			t.Fatalf("version %d reads %d rows, want %d", v, tb.NumRows(), int(v)*rows)
		}
	}
	if problems, err := srv.store.Check(); err != nil || len(problems) != 0 {
		t.Fatalf("check: %q, %v", problems, err)
	}
}
