package store

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// openTestStore opens a fresh store in a temporary directory and closes it
// when the test ends.
func openTestStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "state", "alur.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testRun returns a run created at base plus offset seconds.
func testRun(id string, offset int64, state orchestratorv1.RunState) *orchestratorv1.Run {
	return &orchestratorv1.Run{
		Id:         id,
		State:      state,
		Metric:     "accuracy",
		CreateTime: timestamppb.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(offset) * time.Second)),
		Spec:       &orchestratorv1.PipelineSpec{Name: "pipeline " + id, Label: "y"},
	}
}

func TestOpenCreatesFileWithPrivateMode(t *testing.T) {
	s := openTestStore(t)
	if !strings.HasSuffix(s.Path(), filepath.Join("state", "alur.db")) {
		t.Fatalf("Path() = %q", s.Path())
	}
	if got := s.db.Path(); got != s.Path() {
		t.Fatalf("bbolt path %q, Path() %q", got, s.Path())
	}
	st, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("file mode %v, want 0600", perm)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestConcurrentOpenFailsFast(t *testing.T) {
	s := openTestStore(t)
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 50 * time.Millisecond
	s2, err := Open(s.Path())
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a held file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestOpenRefusesOtherSchema(t *testing.T) {
	s := openTestStore(t)
	path := s.Path()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("schema"), []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(path); err == nil {
		_ = s2.Close()
		t.Fatal("Open accepted schema 99")
	}
	// Reopen so the cleanup's Close has a live database.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.db = db
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alur.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	content := randomBytes(7, 2*ChunkSize+17)
	art, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "dataset", RunId: "r1", Step: "collect"}, content)
	if err != nil {
		t.Fatal(err)
	}
	run := testRun("r1", 0, orchestratorv1.RunState_RUN_STATE_RUNNING)
	if err := s.PutRun(run); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.AppendEvent("r1", &orchestratorv1.RunEvent{Message: "step"}); err != nil {
			t.Fatal(err)
		}
	}
	key := CacheKey([]byte("collect"), []byte("v1"))
	if err := s.CachePut(key, []string{art.GetDigest()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.ReadArtifact(art.GetDigest())
	if err != nil || !slices.Equal(got, content) {
		t.Fatalf("ReadArtifact after reopen: %v (equal %v)", err, slices.Equal(got, content))
	}
	meta, err := s.StatArtifact(art.GetDigest())
	if err != nil || !proto.Equal(meta, art) {
		t.Fatalf("StatArtifact after reopen = %v, %v; want %v", meta, err, art)
	}
	gotRun, err := s.GetRun("r1")
	if err != nil || !proto.Equal(gotRun, run) {
		t.Fatalf("GetRun after reopen = %v, %v", gotRun, err)
	}
	unfinished, err := s.UnfinishedRuns()
	if err != nil || len(unfinished) != 1 || unfinished[0].GetId() != "r1" {
		t.Fatalf("UnfinishedRuns after reopen = %v, %v", unfinished, err)
	}
	ev, err := s.AppendEvent("r1", &orchestratorv1.RunEvent{Message: "resumed"})
	if err != nil || ev.GetSequence() != 4 {
		t.Fatalf("AppendEvent after reopen: seq %d, %v; want 4", ev.GetSequence(), err)
	}
	outs, ok, err := s.CacheGet(key)
	if err != nil || !ok || !slices.Equal(outs, []string{art.GetDigest()}) {
		t.Fatalf("CacheGet after reopen = %v, %v, %v", outs, ok, err)
	}
	later, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "profile", RunId: "r1"}, []byte("later"))
	if err != nil {
		t.Fatal(err)
	}
	if !later.GetCreateTime().AsTime().After(art.GetCreateTime().AsTime()) {
		t.Fatalf("artifact after reopen created at %v, not after %v", later.GetCreateTime().AsTime(), art.GetCreateTime().AsTime())
	}
	list, err := s.ListArtifacts("r1")
	if err != nil || len(list) != 2 || list[0].GetDigest() != art.GetDigest() || list[1].GetDigest() != later.GetDigest() {
		t.Fatalf("ListArtifacts after reopen = %v, %v", list, err)
	}
}

func TestCheckHealthyAndCorrupt(t *testing.T) {
	s := openTestStore(t)
	var digests []string
	for i, n := range []int{0, 10, ChunkSize + 3} {
		a, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "model", RunId: "r"}, randomBytes(uint64(i), n))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, a.GetDigest())
	}
	big := testRun("big", 0, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
	big.Error = strings.Repeat("x", 2*ChunkSize)
	if err := s.PutRun(big); err != nil {
		t.Fatal(err)
	}
	problems, err := s.Check()
	if err != nil || len(problems) != 0 {
		t.Fatalf("Check on a healthy store = %q, %v", problems, err)
	}

	corruptChunk(t, s, digests[2], 1)
	problems, err = s.Check()
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], digests[2]) {
		t.Fatalf("Check after corruption = %q, want one problem naming %s", problems, digests[2])
	}
}
