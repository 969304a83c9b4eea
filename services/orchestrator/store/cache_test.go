package store

import (
	"errors"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func TestCacheKey(t *testing.T) {
	tests := []struct {
		name  string
		parts [][]byte
		want  string
	}{
		// Known answers: sha256 of the length-prefixed encoding.
		{"no parts", nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"one empty part", [][]byte{{}}, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"},
		{"ab, c", [][]byte{[]byte("ab"), []byte("c")}, "601d5476e2ccfe2c87a2bba7a322659734a05749d5b5aa781f513e4912db0d5f"},
	}
	for _, tt := range tests {
		if got := CacheKey(tt.parts...); got != tt.want {
			t.Errorf("CacheKey(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
	distinct := [][][]byte{
		{[]byte("ab"), []byte("c")},
		{[]byte("a"), []byte("bc")},
		{[]byte("abc")},
		{[]byte("abc"), {}},
		{{}, []byte("abc")},
	}
	seen := map[string]int{}
	for i, parts := range distinct {
		k := CacheKey(parts...)
		if j, dup := seen[k]; dup {
			t.Errorf("parts %d and %d share key %s", j, i, k)
		}
		seen[k] = i
	}
}

func TestCache(t *testing.T) {
	s := openTestStore(t)
	a, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "prepared"}, []byte("train rows"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "transform"}, []byte("scaler"))
	if err != nil {
		t.Fatal(err)
	}
	key := CacheKey([]byte("prepare"), []byte("1"), []byte(`{"label":"y"}`), []byte(a.GetDigest()))

	if outs, ok, err := s.CacheGet(key); err != nil || ok || outs != nil {
		t.Fatalf("CacheGet before put = %v, %v, %v; want a miss", outs, ok, err)
	}
	absent := CacheKey([]byte("absent"))
	if err := s.CachePut(key, []string{a.GetDigest(), absent}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CachePut with an absent output: %v, want ErrNotFound", err)
	}
	if err := s.CachePut(key, []string{"XYZ"}); !errors.Is(err, ErrInvalidDigest) {
		t.Fatalf("CachePut with a malformed output: %v, want ErrInvalidDigest", err)
	}
	if err := s.CachePut("", nil); err == nil {
		t.Fatal("CachePut with an empty key succeeded")
	}
	if err := s.CachePut(strings.Repeat("k", MaxIDLength+1), nil); err == nil {
		t.Fatal("CachePut with an over-long key succeeded")
	}

	want := []string{b.GetDigest(), a.GetDigest()}
	if err := s.CachePut(key, want); err != nil {
		t.Fatal(err)
	}
	if outs, ok, err := s.CacheGet(key); err != nil || !ok || !slices.Equal(outs, want) {
		t.Fatalf("CacheGet = %v, %v, %v; want %v", outs, ok, err, want)
	}
	empty := CacheKey([]byte("no outputs"))
	if err := s.CachePut(empty, nil); err != nil {
		t.Fatal(err)
	}
	if outs, ok, err := s.CacheGet(empty); err != nil || !ok || len(outs) != 0 {
		t.Fatalf("CacheGet of an entry without outputs = %v, %v, %v; want a hit", outs, ok, err)
	}

	// An output that has gone away turns the hit into a miss.
	raw, _ := parseDigest(b.GetDigest())
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketManifests).Delete(raw[:]); err != nil {
			return err
		}
		return tx.Bucket(bucketArtifacts).Delete(raw[:])
	}); err != nil {
		t.Fatal(err)
	}
	if outs, ok, err := s.CacheGet(key); err != nil || ok || outs != nil {
		t.Fatalf("CacheGet with a missing output = %v, %v, %v; want a miss", outs, ok, err)
	}
}
