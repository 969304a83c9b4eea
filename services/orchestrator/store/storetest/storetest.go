// Package storetest is the conformance suite every store.Backend passes:
// one table of store operations, run against each implementation, with
// the same expected results.
package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// Harness opens a fresh, empty backend for one test, and damages stored
// content (Corrupt flips bytes of an artifact's content, so the next read
// must fail with store.ErrCorrupt).
type Harness struct {
	Open    func(t *testing.T) store.Backend
	Corrupt func(t *testing.T, b store.Backend, digest string)
}

// Run runs every case against fresh backends from h.
func Run(t *testing.T, h Harness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := h.Open(t)
			c.run(t, b, h)
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, b store.Backend, h Harness)
}

// manyBatches gives v 150 batches, each its own stored artifact: more
// than a store may check in one transaction of etcd's default size.
func manyBatches(t *testing.T, b store.Backend, v *orchestratorv1.DatasetVersion) *orchestratorv1.DatasetVersion {
	for i := range 150 {
		v.BatchDigests = append(v.BatchDigests, put(t, b, "", fmt.Appendf(nil, "batch %d", i)).GetDigest())
	}
	return v
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func run(id string, at time.Duration, st orchestratorv1.RunState) *orchestratorv1.Run {
	return &orchestratorv1.Run{Id: id, State: st, CreateTime: timestamppb.New(t0.Add(at))}
}

func digestOf(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// must turns a (value, error) pair into a function of the test that
// fails it on the error: must(b.GetRun(id))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one matching %v", what, err, target)
	}
}

func ids(runs []*orchestratorv1.Run) string {
	var s []string
	for _, r := range runs {
		s = append(s, r.GetId())
	}
	return strings.Join(s, ",")
}

func put(t *testing.T, b store.Backend, runID string, content []byte) *orchestratorv1.Artifact {
	t.Helper()
	return must(b.PutArtifact(&orchestratorv1.Artifact{RunId: runID, Kind: "test", Name: "a"}, content))(t)
}

var cases = []testCase{
	{"runs: put, get, replace, unfinished index", func(t *testing.T, b store.Backend, _ Harness) {
		for _, r := range []*orchestratorv1.Run{
			run("a", 0, orchestratorv1.RunState_RUN_STATE_RUNNING),
			run("b", time.Second, orchestratorv1.RunState_RUN_STATE_SUCCEEDED),
			run("c", 2*time.Second, orchestratorv1.RunState_RUN_STATE_PENDING),
		} {
			if err := b.PutRun(r); err != nil {
				t.Fatal(err)
			}
		}
		got := must(b.GetRun("b"))(t)
		if !proto.Equal(got, run("b", time.Second, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)) {
			t.Fatalf("GetRun(b) = %v", got)
		}
		_, err := b.GetRun("zzz")
		wantErr(t, "GetRun(missing)", err, store.ErrNotFound)
		if got := ids(must(b.UnfinishedRuns())(t)); got != "a,c" {
			t.Fatalf("UnfinishedRuns = %s, want a,c", got)
		}
		if err := b.PutRun(run("a", 0, orchestratorv1.RunState_RUN_STATE_FAILED)); err != nil {
			t.Fatal(err)
		}
		if got := ids(must(b.UnfinishedRuns())(t)); got != "c" {
			t.Fatalf("UnfinishedRuns after a failed = %s, want c", got)
		}
		// An ended run whose report is still to store needs work too,
		// until the report is stored.
		pending := run("a", 0, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
		pending.ReportPending = true
		if err := b.PutRun(pending); err != nil {
			t.Fatal(err)
		}
		if got := ids(must(b.UnfinishedRuns())(t)); got != "a,c" {
			t.Fatalf("UnfinishedRuns with a's report pending = %s, want a,c", got)
		}
		pending.ReportPending, pending.ReportDigest = false, strings.Repeat("ab", 32)
		if err := b.PutRun(pending); err != nil {
			t.Fatal(err)
		}
		if got := ids(must(b.UnfinishedRuns())(t)); got != "c" {
			t.Fatalf("UnfinishedRuns after a's report = %s, want c", got)
		}
		if err := b.PutRun(&orchestratorv1.Run{Id: "x"}); err == nil {
			t.Fatal("PutRun without create_time succeeded")
		}
	}},
	{"runs: pages newest first, bad tokens refused", func(t *testing.T, b store.Backend, _ Harness) {
		for i, id := range []string{"r1", "r2", "r3", "r4", "r5"} {
			if err := b.PutRun(run(id, time.Duration(i)*time.Second, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)); err != nil {
				t.Fatal(err)
			}
		}
		// A replaced run keeps one index entry.
		if err := b.PutRun(run("r2", time.Second, orchestratorv1.RunState_RUN_STATE_FAILED)); err != nil {
			t.Fatal(err)
		}
		var pages []string
		tok := ""
		for {
			runs, next, err := b.ListRuns(2, tok)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, ids(runs))
			if next == "" {
				break
			}
			tok = next
		}
		if got := strings.Join(pages, "|"); got != "r5,r4|r3,r2|r1" {
			t.Fatalf("pages = %s, want r5,r4|r3,r2|r1", got)
		}
		for _, bad := range []string{"!!", "AA", strings.Repeat("A", 4000)} {
			_, _, err := b.ListRuns(2, bad)
			wantErr(t, "ListRuns("+bad[:2]+")", err, store.ErrBadPageToken)
		}
	}},
	{"runs: a run over one value is stored in parts", func(t *testing.T, b store.Backend, _ Harness) {
		r := run("big", 0, orchestratorv1.RunState_RUN_STATE_RUNNING)
		r.Error = strings.Repeat("x", store.ChunkSize+store.ChunkSize/2)
		if err := b.PutRun(r); err != nil {
			t.Fatal(err)
		}
		if got := must(b.GetRun("big"))(t); !proto.Equal(got, r) {
			t.Fatal("big run changed on the way")
		}
		small := run("big", 0, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
		if err := b.PutRun(small); err != nil {
			t.Fatal(err)
		}
		if got := must(b.GetRun("big"))(t); !proto.Equal(got, small) {
			t.Fatal("shrunk run keeps stale parts")
		}
	}},
	{"events: numbered from 1, read after a sequence", func(t *testing.T, b store.Backend, _ Harness) {
		_, err := b.AppendEvent("nope", &orchestratorv1.RunEvent{Message: "x"})
		wantErr(t, "AppendEvent(missing run)", err, store.ErrNotFound)
		if err := b.PutRun(run("e", 0, orchestratorv1.RunState_RUN_STATE_RUNNING)); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			ev := must(b.AppendEvent("e", &orchestratorv1.RunEvent{Message: fmt.Sprint("m", i)}))(t)
			if ev.GetSequence() != int64(i) || ev.GetTime() == nil {
				t.Fatalf("event %d = %v", i, ev)
			}
		}
		evs := must(b.Events("e", 1))(t)
		if len(evs) != 2 || evs[0].GetMessage() != "m2" || evs[1].GetSequence() != 3 {
			t.Fatalf("Events(e, 1) = %v", evs)
		}
		_, err = b.Events("nope", 0)
		wantErr(t, "Events(missing run)", err, store.ErrNotFound)
	}},
	{"PutRunEvent: the run and its event in one step", func(t *testing.T, b store.Backend, _ Harness) {
		if err := b.PutRun(run("pe", 0, orchestratorv1.RunState_RUN_STATE_RUNNING)); err != nil {
			t.Fatal(err)
		}
		must(b.AppendEvent("pe", &orchestratorv1.RunEvent{Message: "started"}))(t)
		done := run("pe", 0, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
		ev := must(b.PutRunEvent(done, &orchestratorv1.RunEvent{Message: "succeeded", Owner: "replica-1"}))(t)
		if ev.GetSequence() != 2 || ev.GetTime() == nil {
			t.Fatalf("PutRunEvent event = %v", ev)
		}
		if got := must(b.GetRun("pe"))(t); !proto.Equal(got, done) {
			t.Fatalf("run after PutRunEvent = %v", got)
		}
		evs := must(b.Events("pe", 1))(t)
		if len(evs) != 1 || evs[0].GetMessage() != "succeeded" || evs[0].GetOwner() != "replica-1" {
			t.Fatalf("events after PutRunEvent = %v", evs)
		}
		if unf := must(b.UnfinishedRuns())(t); slices.ContainsFunc(unf, func(r *orchestratorv1.Run) bool { return r.GetId() == "pe" }) {
			t.Fatal("the finished run is still listed unfinished")
		}
		// A new run is created with its first event.
		ev = must(b.PutRunEvent(run("pe2", 1, orchestratorv1.RunState_RUN_STATE_PENDING), &orchestratorv1.RunEvent{Message: "queued"}))(t)
		if ev.GetSequence() != 1 {
			t.Fatalf("first event of a new run = %v", ev)
		}
		if _, err := b.PutRunEvent(run("pe", 0, orchestratorv1.RunState_RUN_STATE_FAILED), nil); err == nil {
			t.Fatal("PutRunEvent with a nil event succeeded")
		}
		if got := must(b.GetRun("pe"))(t); !proto.Equal(got, done) {
			t.Fatalf("a refused PutRunEvent changed the run to %v", got)
		}
	}},
	{"artifacts: content-addressed, first producer wins, linked to runs", func(t *testing.T, b store.Backend, _ Harness) {
		content := bytes.Repeat([]byte("abc"), store.ChunkSize) // three chunks
		a := put(t, b, "run1", content)
		if a.GetDigest() != digestOf(content) || a.GetSize() != int64(len(content)) || a.GetCreateTime() == nil {
			t.Fatalf("PutArtifact = %v", a)
		}
		again := must(b.PutArtifact(&orchestratorv1.Artifact{RunId: "run2", Name: "other"}, content))(t)
		if again.GetName() != "a" || again.GetRunId() != "run1" {
			t.Fatalf("second put returned %v, want the first producer's metadata", again)
		}
		if got := must(b.ReadArtifact(a.GetDigest()))(t); !bytes.Equal(got, content) {
			t.Fatal("ReadArtifact differs")
		}
		var chunks int
		var streamed []byte
		if err := b.StreamArtifact(a.GetDigest(), func(c []byte) error {
			if len(c) > store.ChunkSize {
				return fmt.Errorf("chunk of %d bytes", len(c))
			}
			chunks++
			streamed = append(streamed, c...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if chunks < 3 || !bytes.Equal(streamed, content) {
			t.Fatalf("streamed %d chunks", chunks)
		}
		parts := must(b.PutArtifactParts(&orchestratorv1.Artifact{RunId: "run1"}, [][]byte{[]byte("he"), []byte("llo")}))(t)
		if parts.GetDigest() != digestOf([]byte("hello")) {
			t.Fatal("PutArtifactParts digest is not the concatenation's")
		}
		stream := must(b.PutArtifactStream(nil, bytes.NewReader([]byte("streamed"))))(t)
		if err := b.LinkArtifact("run3", stream.GetDigest()); err != nil {
			t.Fatal(err)
		}
		if err := b.LinkArtifact("run3", stream.GetDigest()); err != nil {
			t.Fatal(err)
		}
		list := func(run string) string {
			var s []string
			for _, x := range must(b.ListArtifacts(run))(t) {
				s = append(s, x.GetDigest()[:6])
			}
			return strings.Join(s, ",")
		}
		short := func(as ...*orchestratorv1.Artifact) string {
			var s []string
			for _, x := range as {
				s = append(s, x.GetDigest()[:6])
			}
			return strings.Join(s, ",")
		}
		for _, tc := range []struct{ run, want string }{
			{"", short(a, parts, stream)},
			{"run1", short(a, parts)},
			{"run2", short(a)},
			{"run3", short(stream)},
			{"run4", ""},
		} {
			if got := list(tc.run); got != tc.want {
				t.Errorf("ListArtifacts(%q) = %s, want %s", tc.run, got, tc.want)
			}
		}
		if got := must(b.StatArtifact(a.GetDigest()))(t); !proto.Equal(got, a) {
			t.Fatalf("StatArtifact = %v, want %v", got, a)
		}
	}},
	{"artifacts: bad names, missing, declared digest or size wrong", func(t *testing.T, b store.Backend, _ Harness) {
		_, err := b.StatArtifact("ABC")
		wantErr(t, "StatArtifact(bad)", err, store.ErrInvalidDigest)
		_, err = b.ReadArtifact(digestOf([]byte("never")))
		wantErr(t, "ReadArtifact(missing)", err, store.ErrNotFound)
		_, err = b.PutArtifact(&orchestratorv1.Artifact{Digest: digestOf([]byte("other"))}, []byte("content"))
		wantErr(t, "PutArtifact(wrong digest)", err, store.ErrCorrupt)
		_, err = b.PutArtifact(&orchestratorv1.Artifact{Size: 3}, []byte("content"))
		wantErr(t, "PutArtifact(wrong size)", err, store.ErrCorrupt)
		err = b.LinkArtifact("r", digestOf([]byte("never")))
		wantErr(t, "LinkArtifact(missing)", err, store.ErrNotFound)
		empty := put(t, b, "", nil)
		if got := must(b.ReadArtifact(empty.GetDigest()))(t); len(got) != 0 {
			t.Fatal("empty artifact reads back non-empty")
		}
	}},
	{"artifacts: damaged content fails the read", func(t *testing.T, b store.Backend, h Harness) {
		if h.Corrupt == nil {
			t.Skip("this backend has no corruption hook")
		}
		a := put(t, b, "r", []byte("precious bytes"))
		h.Corrupt(t, b, a.GetDigest())
		_, err := b.ReadArtifact(a.GetDigest())
		wantErr(t, "ReadArtifact(damaged)", err, store.ErrCorrupt)
	}},
	{"step cache: outputs must exist", func(t *testing.T, b store.Backend, _ Harness) {
		key := store.CacheKey([]byte("stage"), []byte("v1"))
		if _, ok, err := b.CacheGet(key); ok || err != nil {
			t.Fatalf("CacheGet(empty) = %v, %v", ok, err)
		}
		err := b.CachePut(key, []string{digestOf([]byte("never"))})
		wantErr(t, "CachePut(unknown output)", err, store.ErrNotFound)
		x, y := put(t, b, "", []byte("x")), put(t, b, "", []byte("y"))
		if err := b.CachePut(key, []string{y.GetDigest(), x.GetDigest()}); err != nil {
			t.Fatal(err)
		}
		outs, ok, err := b.CacheGet(key)
		if err != nil || !ok || strings.Join(outs, ",") != y.GetDigest()+","+x.GetDigest() {
			t.Fatalf("CacheGet = %v, %v, %v", outs, ok, err)
		}
		if err := b.CachePut(key, nil); err != nil {
			t.Fatal(err)
		}
		if outs, ok, _ := b.CacheGet(key); !ok || len(outs) != 0 {
			t.Fatalf("CacheGet(no outputs) = %v, %v", outs, ok)
		}
	}},
	{"datasets: versions in order, never rewritten", func(t *testing.T, b store.Backend, _ Harness) {
		a1, a2 := put(t, b, "", []byte("v1")), put(t, b, "", []byte("v2"))
		dv := func(v int64, d string) *orchestratorv1.DatasetVersion {
			return &orchestratorv1.DatasetVersion{Version: v, ArtifactDigest: d, CreateTime: timestamppb.New(t0.Add(time.Duration(v) * time.Second))}
		}
		_, err := b.DatasetVersion("iris", 0)
		wantErr(t, "DatasetVersion(none)", err, store.ErrNotFound)
		for _, tc := range []struct {
			name string
			v    *orchestratorv1.DatasetVersion
			want error
		}{
			{"iris", dv(2, a1.GetDigest()), store.ErrVersionConflict},
			{"iris", dv(1, digestOf([]byte("never"))), store.ErrNotFound},
			{"iris", dv(1, a1.GetDigest()), nil},
			{"iris", dv(1, a2.GetDigest()), store.ErrVersionConflict},
			{"iris", dv(2, a2.GetDigest()), nil},
			{"adult", dv(1, a2.GetDigest()), nil},
			{"many-batches", manyBatches(t, b, dv(1, a1.GetDigest())), nil},
		} {
			err := b.PutDatasetVersion(tc.name, tc.v)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("PutDatasetVersion(%s, %d) = %v, want %v", tc.name, tc.v.GetVersion(), err, tc.want)
			}
		}
		if v := must(b.DatasetVersion("iris", 0))(t); v.GetVersion() != 2 {
			t.Fatalf("latest = %d", v.GetVersion())
		}
		if v := must(b.DatasetVersion("iris", 1))(t); v.GetArtifactDigest() != a1.GetDigest() {
			t.Fatal("version 1 changed")
		}
		_, err = b.DatasetVersion("iris", 3)
		wantErr(t, "DatasetVersion(3)", err, store.ErrNotFound)
		d := must(b.GetDataset("iris"))(t)
		if d.GetLatestVersion() != 2 || len(d.GetVersions()) != 2 || d.GetVersions()[0].GetVersion() != 2 || !d.GetCreateTime().AsTime().Equal(t0.Add(time.Second)) {
			t.Fatalf("GetDataset = %v", d)
		}
		all := must(b.ListDatasets())(t)
		if len(all) != 3 || all[0].GetName() != "adult" || all[1].GetLatestVersion() != 2 || len(all[1].GetVersions()) != 1 {
			t.Fatalf("ListDatasets = %v", all)
		}
	}},
	{"models: versions, aliases, deletes", func(t *testing.T, b store.Backend, _ Harness) {
		m, tr := put(t, b, "", []byte("model")), put(t, b, "", []byte("transform"))
		mv := func() *orchestratorv1.ModelVersion {
			return &orchestratorv1.ModelVersion{Name: "churn", ModelDigest: m.GetDigest(), TransformDigest: tr.GetDigest(), CreateTime: timestamppb.New(t0)}
		}
		_, err := b.GetModel("churn")
		wantErr(t, "GetModel(none)", err, store.ErrNotFound)
		bad := mv()
		bad.ModelDigest = digestOf([]byte("never"))
		_, err = b.PutModelVersion(bad)
		wantErr(t, "PutModelVersion(missing artifact)", err, store.ErrNotFound)
		for want := int64(1); want <= 2; want++ {
			if v := must(b.PutModelVersion(mv()))(t); v.GetVersion() != want {
				t.Fatalf("version %d, want %d", v.GetVersion(), want)
			}
		}
		a := must(b.SetModelAlias("churn", &orchestratorv1.ModelAlias{Alias: "prod", Version: 1}))(t)
		if a.GetPreviousVersion() != 0 || a.GetUpdateTime() == nil {
			t.Fatalf("alias = %v", a)
		}
		_, err = b.SetModelAlias("churn", &orchestratorv1.ModelAlias{Alias: "prod", Version: 9})
		wantErr(t, "SetModelAlias(missing version)", err, store.ErrNotFound)
		_, err = b.DeleteModelVersion("churn", 1)
		wantErr(t, "DeleteModelVersion(aliased)", err, store.ErrAliasInUse)
		a = must(b.SetModelAlias("churn", &orchestratorv1.ModelAlias{Alias: "prod", Version: 2}))(t)
		if a.GetPreviousVersion() != 1 {
			t.Fatalf("previous = %d, want 1", a.GetPreviousVersion())
		}
		must(b.SetModelAlias("churn", &orchestratorv1.ModelAlias{Alias: "canary", Version: 2}))(t)
		if v := must(b.DeleteModelVersion("churn", 1))(t); v.GetVersion() != 1 {
			t.Fatalf("deleted %v", v)
		}
		if v := must(b.PutModelVersion(mv()))(t); v.GetVersion() != 3 {
			t.Fatalf("after a delete, version %d, want 3 (numbers are never reused)", v.GetVersion())
		}
		got := must(b.GetModel("churn"))(t)
		var vs []string
		for _, v := range got.GetVersions() {
			vs = append(vs, fmt.Sprintf("%d%v", v.GetVersion(), v.GetAliases()))
		}
		var as []string
		for _, a := range got.GetAliases() {
			as = append(as, fmt.Sprintf("%s=%d", a.GetAlias(), a.GetVersion()))
		}
		if strings.Join(vs, " ") != "3[] 2[canary prod]" || strings.Join(as, " ") != "canary=2 prod=2" || got.GetLatestVersion() != 3 {
			t.Fatalf("GetModel: versions %v aliases %v latest %d", vs, as, got.GetLatestVersion())
		}
		if out, err := b.SetModelAlias("churn", &orchestratorv1.ModelAlias{Alias: "canary"}); out != nil || err != nil {
			t.Fatalf("removing an alias = %v, %v", out, err)
		}
		_, err = b.SetModelAlias("churn", &orchestratorv1.ModelAlias{Alias: "canary"})
		wantErr(t, "removing a missing alias", err, store.ErrNotFound)
		list := must(b.ListModels())(t)
		if len(list) != 1 || len(list[0].GetVersions()) != 1 || list[0].GetVersions()[0].GetVersion() != 3 || len(list[0].GetAliases()) != 1 {
			t.Fatalf("ListModels = %v", list)
		}
	}},
}
