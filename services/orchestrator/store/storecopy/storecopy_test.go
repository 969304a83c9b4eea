package storecopy_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
	"github.com/alur-ml/alur/services/orchestrator/store/storecopy"
)

func openBolt(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "alur.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// fill writes some of everything a store holds.
func fill(t *testing.T, b store.Backend) {
	t.Helper()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var digests []string
	for i := range 4 {
		a, err := b.PutArtifact(&orchestratorv1.Artifact{RunId: fmt.Sprint("run-", i%2), Kind: "k", Name: fmt.Sprint("a", i)},
			bytes.Repeat([]byte{byte(i)}, store.ChunkSize+i*1000))
		check(err)
		digests = append(digests, a.GetDigest())
	}
	for i := range 3 {
		id := fmt.Sprint("run-", i)
		check(b.PutRun(&orchestratorv1.Run{Id: id, State: orchestratorv1.RunState_RUN_STATE_SUCCEEDED, CreateTime: timestamppb.New(t0.Add(time.Duration(i) * time.Minute)), ModelDigest: digests[i]}))
		for j := range 3 {
			_, err := b.AppendEvent(id, &orchestratorv1.RunEvent{Message: fmt.Sprint("event ", j), Time: timestamppb.New(t0)})
			check(err)
		}
	}
	check(b.LinkArtifact("run-2", digests[3]))
	check(b.CachePut(store.CacheKey([]byte("step")), digests[:2]))
	for v := int64(1); v <= 2; v++ {
		check(b.PutDatasetVersion("ds", &orchestratorv1.DatasetVersion{Version: v, ArtifactDigest: digests[v], CreateTime: timestamppb.New(t0)}))
	}
	for range 3 {
		_, err := b.PutModelVersion(&orchestratorv1.ModelVersion{Name: "m", ModelDigest: digests[0], TransformDigest: digests[1], CreateTime: timestamppb.New(t0)})
		check(err)
	}
	_, err := b.DeleteModelVersion("m", 2)
	check(err)
	_, err = b.SetModelAlias("m", &orchestratorv1.ModelAlias{Alias: "prod", Version: 3})
	check(err)
}

// TestCopyBoltToEtcdAndBack copies a bbolt store into etcd and a blob
// directory, and that copy into a fresh bbolt file: the digests agree at
// each step, and a change in the copy makes them disagree.
func TestCopyBoltToEtcdAndBack(t *testing.T) {
	src := openBolt(t)
	fill(t, src)
	srv := etcdtest.Start(t)
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mid := etcdstore.New(srv.Client(t), "/copy", bs)
	r, err := storecopy.Copy(mid, src)
	if err != nil {
		t.Fatal(err)
	}
	want := storecopy.Report{Runs: 3, Events: 9, Artifacts: 4, Links: 5, CacheEntries: 1, DatasetVersions: 2, ModelVersions: 2, Aliases: 1, Bytes: 4*store.ChunkSize + 6000}
	if r != want {
		t.Fatalf("report %+v, want %+v", r, want)
	}
	back := openBolt(t)
	if _, err := storecopy.Copy(back, mid); err != nil {
		t.Fatal(err)
	}
	if err := storecopy.Verify(back, src); err != nil {
		t.Fatal(err)
	}
	if _, err := back.AppendEvent("run-1", &orchestratorv1.RunEvent{Message: "only in the copy"}); err != nil {
		t.Fatal(err)
	}
	if err := storecopy.Verify(back, src); err == nil || !strings.Contains(err.Error(), "runs") {
		t.Fatalf("Verify after a change = %v, want a difference in runs", err)
	}
}
