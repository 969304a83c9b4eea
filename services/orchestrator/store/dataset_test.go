package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// putTestVersion stores a table artifact and records it as the given
// version of name.
func putTestVersion(t *testing.T, s *Store, name string, version int64) (*orchestratorv1.DatasetVersion, error) {
	t.Helper()
	a, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "dataset"}, randomBytes(uint64(version)*7919+uint64(len(name)), 100))
	if err != nil {
		t.Fatalf("PutArtifact: %v", err)
	}
	v := &orchestratorv1.DatasetVersion{
		Version: version, CreateTime: timestamppb.New(time.Date(2025, 3, 1, 0, 0, int(version), 0, time.UTC)),
		Rows: version * 10, TableDigest: a.GetDigest(), ArtifactDigest: a.GetDigest(), BatchDigests: []string{a.GetDigest()},
	}
	return v, s.PutDatasetVersion(name, v)
}

func TestDatasetVersions(t *testing.T) {
	s := openTestStore(t)
	if _, err := s.GetDataset("sales"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetDataset of a new name: %v, want ErrNotFound", err)
	}
	if _, err := s.DatasetVersion("sales", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("latest of a new name: %v, want ErrNotFound", err)
	}
	if _, err := putTestVersion(t, s, "sales", 2); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("version 2 first: %v, want ErrVersionConflict", err)
	}
	var want []*orchestratorv1.DatasetVersion
	for v := int64(1); v <= 3; v++ {
		dv, err := putTestVersion(t, s, "sales", v)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		want = append(want, dv)
	}
	if _, err := putTestVersion(t, s, "sales", 3); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("rewriting version 3: %v, want ErrVersionConflict", err)
	}
	// A name that is a prefix of another does not see its versions.
	if _, err := putTestVersion(t, s, "sale", 1); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetDataset("sales")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetLatestVersion() != 3 || len(d.GetVersions()) != 3 || !proto.Equal(d.GetCreateTime(), want[0].GetCreateTime()) {
		t.Fatalf("dataset = %v", d)
	}
	for i, v := range d.GetVersions() {
		if !proto.Equal(v, want[2-i]) {
			t.Errorf("versions[%d] = %v, want %v (newest first)", i, v, want[2-i])
		}
	}
	for _, tc := range []struct {
		ask, want int64
	}{{0, 3}, {1, 1}, {3, 3}} {
		v, err := s.DatasetVersion("sales", tc.ask)
		if err != nil || v.GetVersion() != tc.want {
			t.Errorf("DatasetVersion(%d) = %v, %v; want version %d", tc.ask, v, err, tc.want)
		}
	}
	if _, err := s.DatasetVersion("sales", 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("version 4: %v, want ErrNotFound", err)
	}
	list, err := s.ListDatasets()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].GetName() != "sale" || list[1].GetName() != "sales" ||
		list[1].GetLatestVersion() != 3 || len(list[1].GetVersions()) != 1 || list[1].GetVersions()[0].GetVersion() != 3 {
		t.Fatalf("ListDatasets = %v", list)
	}
}

func TestDatasetVersionNeedsArtifacts(t *testing.T) {
	s := openTestStore(t)
	missing := fmt.Sprintf("%064x", 1)
	v := &orchestratorv1.DatasetVersion{Version: 1, CreateTime: timestamppb.Now(), ArtifactDigest: missing}
	if err := s.PutDatasetVersion("d", v); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing artifact: %v, want ErrNotFound", err)
	}
	v.ArtifactDigest = "nope"
	if err := s.PutDatasetVersion("d", v); !errors.Is(err, ErrInvalidDigest) {
		t.Fatalf("bad digest: %v, want ErrInvalidDigest", err)
	}
	for _, name := range []string{"", string(make([]byte, MaxDatasetNameLength+1))} {
		if err := s.PutDatasetVersion(name, v); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func TestDatasetVersionsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alur.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 2; v++ {
		if _, err := putTestVersion(t, s, "iris", v); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.GetDataset("iris")
	if err != nil {
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
	after, err := s.GetDataset("iris")
	if err != nil || !proto.Equal(before, after) {
		t.Fatalf("after reopen: %v, %v; want %v", after, err, before)
	}
	if problems, err := s.Check(); err != nil || len(problems) > 0 {
		t.Fatalf("Check: %v, %v", problems, err)
	}
}

// Appends racing for the same next number: exactly one wins each number,
// the others see ErrVersionConflict, and the numbers stay gapless.
func TestConcurrentDatasetAppendsSerialise(t *testing.T) {
	s := openTestStore(t)
	const workers, rounds = 4, 5
	a, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "dataset"}, []byte("table"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[int64]int{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for {
					latest := int64(0)
					if v, err := s.DatasetVersion("shared", 0); err == nil {
						latest = v.GetVersion()
					}
					v := &orchestratorv1.DatasetVersion{Version: latest + 1, CreateTime: timestamppb.Now(), Source: fmt.Sprint(w), ArtifactDigest: a.GetDigest()}
					err := s.PutDatasetVersion("shared", v)
					if errors.Is(err, ErrVersionConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					wins[v.GetVersion()]++
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	d, err := s.GetDataset("shared")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetLatestVersion() != workers*rounds || len(d.GetVersions()) != workers*rounds {
		t.Fatalf("latest %d with %d versions, want %d", d.GetLatestVersion(), len(d.GetVersions()), workers*rounds)
	}
	for v := int64(1); v <= workers*rounds; v++ {
		if wins[v] != 1 {
			t.Errorf("version %d won %d times", v, wins[v])
		}
	}
}
