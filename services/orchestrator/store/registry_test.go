package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// putTestModel stores a model and a transform artifact and registers them
// under name.
func putTestModel(t *testing.T, s *Store, name string, seed uint64) *orchestratorv1.ModelVersion {
	t.Helper()
	m, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "model"}, randomBytes(seed, 200))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "transform"}, randomBytes(seed+1000, 50))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.PutModelVersion(&orchestratorv1.ModelVersion{
		Name: name, Version: 99, CreateTime: timestamppb.New(time.Date(2025, 4, 1, 0, 0, int(seed), 0, time.UTC)),
		RunId: fmt.Sprintf("run-%d", seed), ModelDigest: m.GetDigest(), TransformDigest: tr.GetDigest(),
		CreatedBy: "ada", Description: "better recall",
	})
	if err != nil {
		t.Fatalf("PutModelVersion: %v", err)
	}
	return v
}

func setAlias(s *Store, name, alias string, version int64) (*orchestratorv1.ModelAlias, error) {
	return s.SetModelAlias(name, &orchestratorv1.ModelAlias{Alias: alias, Version: version, UpdatedBy: "bo", Reason: "promote"})
}

func TestModelVersionsNumberAndList(t *testing.T) {
	s := openTestStore(t)
	if _, err := s.GetModel("churn"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetModel of a new name: %v, want ErrNotFound", err)
	}
	for i := uint64(1); i <= 3; i++ {
		if v := putTestModel(t, s, "churn", i); v.GetVersion() != int64(i) {
			t.Fatalf("version %d numbered %d", i, v.GetVersion())
		}
	}
	// A name that is a prefix of another sees only its own versions.
	putTestModel(t, s, "chur", 7)
	m, err := s.GetModel("churn")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.GetVersions()); got != 3 || m.GetLatestVersion() != 3 || m.GetVersions()[0].GetVersion() != 3 {
		t.Fatalf("GetModel: %d versions, latest %d, first %d; want 3, 3, 3", got, m.GetLatestVersion(), m.GetVersions()[0].GetVersion())
	}
	if v := m.GetVersions()[2]; v.GetCreatedBy() != "ada" || v.GetDescription() != "better recall" || v.GetRunId() != "run-1" {
		t.Fatalf("version 1 lost its record: %v", v)
	}
	list, err := s.ListModels()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].GetName() != "chur" || list[1].GetName() != "churn" || list[1].GetVersions()[0].GetVersion() != 3 {
		t.Fatalf("ListModels: %v", list)
	}
}

func TestModelVersionNeedsArtifacts(t *testing.T) {
	s := openTestStore(t)
	missing := fmt.Sprintf("%064x", 1)
	tests := []struct {
		name    string
		v       *orchestratorv1.ModelVersion
		wantErr error
	}{
		{"missing model", &orchestratorv1.ModelVersion{Name: "m", CreateTime: timestamppb.Now(), ModelDigest: missing, TransformDigest: missing}, ErrNotFound},
		{"bad digest", &orchestratorv1.ModelVersion{Name: "m", CreateTime: timestamppb.Now(), ModelDigest: "xyz", TransformDigest: missing}, ErrInvalidDigest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.PutModelVersion(tc.v); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := s.PutModelVersion(&orchestratorv1.ModelVersion{Name: "", CreateTime: timestamppb.Now()}); err == nil {
		t.Fatal("empty name accepted")
	}
}

func TestModelAliasesMoveAndGuardDelete(t *testing.T) {
	s := openTestStore(t)
	for i := uint64(1); i <= 3; i++ {
		putTestModel(t, s, "churn", i)
	}
	if _, err := setAlias(s, "churn", "production", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alias on a missing version: %v, want ErrNotFound", err)
	}
	if _, err := setAlias(s, "nope", "production", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alias on a missing model: %v, want ErrNotFound", err)
	}
	a, err := setAlias(s, "churn", "production", 2)
	if err != nil {
		t.Fatal(err)
	}
	if a.GetPreviousVersion() != 0 || a.GetUpdatedBy() != "bo" || a.GetUpdateTime() == nil {
		t.Fatalf("first set: %v", a)
	}
	if _, err := s.DeleteModelVersion("churn", 2); !errors.Is(err, ErrAliasInUse) {
		t.Fatalf("delete under an alias: %v, want ErrAliasInUse", err)
	}
	if a, err = setAlias(s, "churn", "production", 3); err != nil || a.GetPreviousVersion() != 2 {
		t.Fatalf("move: %v, %v; want previous 2", a, err)
	}
	m, err := s.GetModel("churn")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.GetVersions()[0].GetAliases(); len(got) != 1 || got[0] != "production" {
		t.Fatalf("version 3 aliases %v, want [production]", got)
	}
	if _, err := s.DeleteModelVersion("churn", 2); err != nil {
		t.Fatalf("delete after the alias moved: %v", err)
	}
	if _, err := s.DeleteModelVersion("churn", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := setAlias(s, "churn", "production", 0); err != nil {
		t.Fatalf("remove alias: %v", err)
	}
	if _, err := setAlias(s, "churn", "production", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove a missing alias: %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteModelVersion("churn", 3); err != nil {
		t.Fatal(err)
	}
	// Deleted numbers are never given again.
	if v := putTestModel(t, s, "churn", 4); v.GetVersion() != 4 {
		t.Fatalf("after deleting 3 the next version is %d, want 4", v.GetVersion())
	}
}

// TestModelAliasMoveIsAtomic moves an alias back and forth while readers
// resolve it: every read sees the alias on one of the two versions.
func TestModelAliasMoveIsAtomic(t *testing.T) {
	s := openTestStore(t)
	putTestModel(t, s, "churn", 1)
	putTestModel(t, s, "churn", 2)
	if _, err := setAlias(s, "churn", "production", 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			if _, err := setAlias(s, "churn", "production", int64(1+i%2)); err != nil {
				errs <- err
				return
			}
		}
	}()
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				m, err := s.GetModel("churn")
				if err != nil {
					errs <- err
					return
				}
				if len(m.GetAliases()) != 1 || (m.GetAliases()[0].GetVersion() != 1 && m.GetAliases()[0].GetVersion() != 2) {
					errs <- fmt.Errorf("aliases %v", m.GetAliases())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRegistrySurvivesReopen checks the registry is in the file.
func TestRegistrySurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alur.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := putTestModel(t, s, "churn", 1)
	if _, err := setAlias(s, "churn", "staging", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.GetModel("churn")
	if err != nil {
		t.Fatal(err)
	}
	got := proto.CloneOf(m.GetVersions()[0])
	got.Aliases = nil
	if !proto.Equal(got, want) || m.GetAliases()[0].GetAlias() != "staging" {
		t.Fatalf("after reopen: %v, want %v with alias staging", m, want)
	}
}

// TestCheckRegistry finds nothing wrong with a sound registry.
func TestCheckRegistry(t *testing.T) {
	s := openTestStore(t)
	putTestModel(t, s, "churn", 1)
	putTestModel(t, s, "churn", 2)
	if _, err := setAlias(s, "churn", "production", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteModelVersion("churn", 1); err != nil {
		t.Fatal(err)
	}
	problems, err := s.Check()
	if err != nil || len(problems) != 0 {
		t.Fatalf("Check: %v %v", problems, err)
	}
	// An alias written past the store's guard, onto the deleted version.
	raw, _ := proto.Marshal(&orchestratorv1.ModelAlias{Alias: "staging", Version: 1})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketModelAliases).Put(modelAliasKey("churn", "staging"), raw)
	}); err != nil {
		t.Fatal(err)
	}
	problems, err = s.Check()
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], `alias "staging" points at missing version 1`) {
		t.Fatalf("Check after a dangling alias: %v %v", problems, err)
	}
}
