package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// listAll pages through every run with the given page size and returns
// the ids in order and the number of pages.
func listAll(t *testing.T, s *Store, pageSize int) (ids []string, pages int) {
	t.Helper()
	tok := ""
	for {
		runs, next, err := s.ListRuns(pageSize, tok)
		if err != nil {
			t.Fatalf("ListRuns(%d, %q): %v", pageSize, tok, err)
		}
		pages++
		for _, r := range runs {
			ids = append(ids, r.GetId())
		}
		if next == "" {
			return ids, pages
		}
		if pages > 1000 {
			t.Fatal("ListRuns does not terminate")
		}
		tok = next
	}
}

func TestPutGetRun(t *testing.T) {
	s := openTestStore(t)
	run := testRun("r1", 0, orchestratorv1.RunState_RUN_STATE_PENDING)
	if err := s.PutRun(run); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun("r1")
	if err != nil || !proto.Equal(got, run) {
		t.Fatalf("GetRun = %v, %v; want %v", got, err, run)
	}
	if _, err := s.GetRun("absent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRun(absent): %v, want ErrNotFound", err)
	}

	bad := []struct {
		name string
		run  *orchestratorv1.Run
	}{
		{"nil", nil},
		{"no id", &orchestratorv1.Run{CreateTime: run.GetCreateTime()}},
		{"long id", testRun(strings.Repeat("x", MaxIDLength+1), 0, 0)},
		{"no create time", &orchestratorv1.Run{Id: "x"}},
	}
	for _, tt := range bad {
		if err := s.PutRun(tt.run); err == nil {
			t.Errorf("PutRun(%s) succeeded", tt.name)
		}
	}
}

func TestPutRunReplacesAndReindexes(t *testing.T) {
	s := openTestStore(t)
	if err := s.PutRun(testRun("a", 0, orchestratorv1.RunState_RUN_STATE_RUNNING)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun(testRun("b", 10, orchestratorv1.RunState_RUN_STATE_PENDING)); err != nil {
		t.Fatal(err)
	}
	// "a" finishes with a large run proto, then its create time moves.
	big := testRun("a", 20, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
	big.Error = strings.Repeat("e", 2*ChunkSize+7)
	if err := s.PutRun(big); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun("a")
	if err != nil || !proto.Equal(got, big) {
		t.Fatalf("GetRun of a multi-part run: %v", err)
	}
	ids, _ := listAll(t, s, 10)
	if want := []string{"a", "b"}; !slices.Equal(ids, want) {
		t.Fatalf("ListRuns after replace = %v, want %v", ids, want)
	}
	unf, err := s.UnfinishedRuns()
	if err != nil || len(unf) != 1 || unf[0].GetId() != "b" {
		t.Fatalf("UnfinishedRuns = %v, %v; want [b]", unf, err)
	}
	// Shrinking back to one part drops the stale parts.
	small := testRun("a", 20, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
	if err := s.PutRun(small); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRun("a"); err != nil || !proto.Equal(got, small) {
		t.Fatalf("GetRun after shrink = %v, %v", got, err)
	}
	var keys int
	if err := s.db.View(func(tx *bolt.Tx) error {
		keys = tx.Bucket(bucketRuns).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if keys != 2 {
		t.Fatalf("runs bucket holds %d keys, want 2", keys)
	}
}

func TestListRunsPaging(t *testing.T) {
	s := openTestStore(t)
	// Offsets in seconds; "d" and "e" share a create time.
	offsets := map[string]int64{"a": 0, "b": 5, "c": 3, "d": 9, "e": 9, "f": 1, "g": 7}
	for id, off := range offsets {
		if err := s.PutRun(testRun(id, off, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"d", "e", "g", "b", "c", "f", "a"}
	tests := []struct {
		pageSize  int
		wantPages int
	}{
		{1, 7},
		{3, 3},
		{7, 1},
		{100, 1},
		{0, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.pageSize), func(t *testing.T) {
			ids, pages := listAll(t, s, tt.pageSize)
			if !slices.Equal(ids, want) || pages != tt.wantPages {
				t.Fatalf("ids %v in %d pages; want %v in %d", ids, pages, want, tt.wantPages)
			}
		})
	}

	// A run started between pages appears on no later page and does not
	// shift the rest.
	first, tok, err := s.ListRuns(2, "")
	if err != nil || len(first) != 2 || tok == "" {
		t.Fatalf("first page: %v, %q, %v", first, tok, err)
	}
	if err := s.PutRun(testRun("new", 100, orchestratorv1.RunState_RUN_STATE_PENDING)); err != nil {
		t.Fatal(err)
	}
	rest, next, err := s.ListRuns(10, tok)
	if err != nil || next != "" {
		t.Fatalf("second page: next %q, %v", next, err)
	}
	var ids []string
	for _, r := range rest {
		ids = append(ids, r.GetId())
	}
	if !slices.Equal(ids, want[2:]) {
		t.Fatalf("second page %v, want %v", ids, want[2:])
	}

	if _, _, err := s.ListRuns(-1, ""); err == nil {
		t.Fatal("ListRuns(-1) succeeded")
	}
}

func TestListRunsBadTokens(t *testing.T) {
	s := openTestStore(t)
	for _, tok := range []string{"!!!", "AA", "Ag" + strings.Repeat("A", 20), strings.Repeat("A", maxPageTokenLen+1)} {
		if _, _, err := s.ListRuns(10, tok); !errors.Is(err, ErrBadPageToken) {
			t.Errorf("ListRuns(token %q): %v, want ErrBadPageToken", tok, err)
		}
	}
}

func FuzzListRunsToken(f *testing.F) {
	s := openTestStore(f)
	for i := 0; i < 4; i++ {
		if err := s.PutRun(testRun(fmt.Sprint("run", i), int64(i), orchestratorv1.RunState_RUN_STATE_SUCCEEDED)); err != nil {
			f.Fatal(err)
		}
	}
	_, tok, err := s.ListRuns(2, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("")
	f.Add("AQ")
	f.Add(encodePageToken(make([]byte, timeKeySize+1)))
	f.Add("\x00\xff")
	f.Fuzz(func(t *testing.T, tok string) {
		runs, next, err := s.ListRuns(2, tok)
		if err != nil {
			if !errors.Is(err, ErrBadPageToken) {
				t.Fatalf("ListRuns(%q): %v, want ErrBadPageToken", tok, err)
			}
			return
		}
		if len(runs) > 2 {
			t.Fatalf("page of %d runs", len(runs))
		}
		if next != "" {
			if _, err := decodePageToken(next); err != nil {
				t.Fatalf("issued token %q does not decode: %v", next, err)
			}
		}
	})
}

func TestUnfinishedRunsOldestFirst(t *testing.T) {
	s := openTestStore(t)
	states := []struct {
		id    string
		off   int64
		state orchestratorv1.RunState
	}{
		{"z", 1, orchestratorv1.RunState_RUN_STATE_RUNNING},
		{"y", 2, orchestratorv1.RunState_RUN_STATE_PENDING},
		{"x", 3, orchestratorv1.RunState_RUN_STATE_FAILED},
		{"w", 0, orchestratorv1.RunState_RUN_STATE_RUNNING},
		{"v", 4, orchestratorv1.RunState_RUN_STATE_CANCELLED},
		{"u", 5, orchestratorv1.RunState_RUN_STATE_SUCCEEDED},
	}
	for _, st := range states {
		if err := s.PutRun(testRun(st.id, st.off, st.state)); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.UnfinishedRuns()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.GetId())
	}
	if want := []string{"w", "z", "y"}; !slices.Equal(ids, want) {
		t.Fatalf("UnfinishedRuns = %v, want %v", ids, want)
	}
}

func TestEvents(t *testing.T) {
	s := openTestStore(t)
	for _, id := range []string{"r1", "r2"} {
		if err := s.PutRun(testRun(id, 0, orchestratorv1.RunState_RUN_STATE_RUNNING)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendEvent("absent", &orchestratorv1.RunEvent{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AppendEvent to an absent run: %v, want ErrNotFound", err)
	}
	if _, err := s.AppendEvent("r1", nil); err == nil {
		t.Fatal("AppendEvent(nil) succeeded")
	}
	if evs, err := s.Events("r1", 0); err != nil || len(evs) != 0 {
		t.Fatalf("Events before any append = %v, %v", evs, err)
	}
	fixed := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for i := 1; i <= 5; i++ {
		in := &orchestratorv1.RunEvent{Message: fmt.Sprint("r1 event ", i), Sequence: 99}
		if i == 3 {
			in.Time = timestamppb.New(fixed)
		}
		ev, err := s.AppendEvent("r1", in)
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetSequence() != int64(i) || ev.GetTime() == nil || in.GetSequence() != 99 {
			t.Fatalf("event %d: sequence %d time %v (caller's sequence %d)", i, ev.GetSequence(), ev.GetTime(), in.GetSequence())
		}
		if i == 3 && !ev.GetTime().AsTime().Equal(fixed) {
			t.Fatalf("AppendEvent replaced a set time: %v", ev.GetTime().AsTime())
		}
		if i <= 2 {
			if ev, err := s.AppendEvent("r2", &orchestratorv1.RunEvent{Message: "r2"}); err != nil || ev.GetSequence() != int64(i) {
				t.Fatalf("r2 event %d: sequence %d, %v", i, ev.GetSequence(), err)
			}
		}
	}
	tests := []struct {
		run   string
		after int64
		want  []int64
	}{
		{"r1", 0, []int64{1, 2, 3, 4, 5}},
		{"r1", -7, []int64{1, 2, 3, 4, 5}},
		{"r1", 3, []int64{4, 5}},
		{"r1", 5, nil},
		{"r1", 1 << 62, nil},
		{"r2", 1, []int64{2}},
	}
	for _, tt := range tests {
		evs, err := s.Events(tt.run, tt.after)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, ev := range evs {
			seqs = append(seqs, ev.GetSequence())
			if tt.run == "r1" && ev.GetMessage() != fmt.Sprint("r1 event ", ev.GetSequence()) {
				t.Errorf("event %d has message %q", ev.GetSequence(), ev.GetMessage())
			}
		}
		if !slices.Equal(seqs, tt.want) {
			t.Errorf("Events(%s, %d) = %v, want %v", tt.run, tt.after, seqs, tt.want)
		}
	}
	if _, err := s.Events("absent", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Events of an absent run: %v, want ErrNotFound", err)
	}
}
