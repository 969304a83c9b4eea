package etcdstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
	"github.com/alur-ml/alur/services/orchestrator/store/storetest"
)

// TestConformance runs the shared backend suite over etcd and a blob
// directory: one etcd member, a fresh key prefix per case.
func TestConformance(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	var n atomic.Int64
	blobDirs := map[store.Backend]string{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Backend {
			dir := t.TempDir()
			bs, err := blob.NewDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			st := etcdstore.New(cli, fmt.Sprintf("/conformance/%d", n.Add(1)), bs)
			blobDirs[st] = dir
			return st
		},
		Corrupt: func(t *testing.T, b store.Backend, digest string) {
			p := filepath.Join(blobDirs[b], "sha256", digest[:2], digest)
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			raw[0] ^= 1
			if err := os.WriteFile(p, raw, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestReplicasRace has two stores on two clients (two orchestrators)
// race for event numbers and dataset versions: every event gets its own
// number, and each version number is won exactly once.
func TestReplicasRace(t *testing.T) {
	srv := etcdtest.Start(t)
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := etcdstore.New(srv.Client(t), "/race", bs)
	b := etcdstore.New(srv.Client(t), "/race", bs)
	if err := a.PutRun(&orchestratorv1.Run{Id: "r", CreateTime: timestamppb.Now()}); err != nil {
		t.Fatal(err)
	}
	art, err := a.PutArtifact(nil, []byte("rows"))
	if err != nil {
		t.Fatal(err)
	}
	const perReplica = 20
	var wg sync.WaitGroup
	var wins, conflicts atomic.Int64
	for i, st := range []*etcdstore.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perReplica {
				if _, err := st.AppendEvent("r", &orchestratorv1.RunEvent{Message: fmt.Sprint(i, "/", j)}); err != nil {
					t.Error(err)
				}
				v := int64(j/2 + 1)
				err := st.PutDatasetVersion("d", &orchestratorv1.DatasetVersion{Version: v, ArtifactDigest: art.GetDigest(), CreateTime: timestamppb.Now()})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrVersionConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	evs, err := b.Events("r", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4*perReplica {
		t.Fatalf("%d events, want %d", len(evs), 4*perReplica)
	}
	for i, ev := range evs {
		if ev.GetSequence() != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i, ev.GetSequence())
		}
	}
	d, err := a.GetDataset("d")
	if err != nil {
		t.Fatal(err)
	}
	if wins.Load() != d.GetLatestVersion() || int64(len(d.GetVersions())) != d.GetLatestVersion() {
		t.Fatalf("%d appends won, dataset has %d versions (latest %d)", wins.Load(), len(d.GetVersions()), d.GetLatestVersion())
	}
}

// TestFencedOwnership follows one run through its owner's lease ending:
// the owner writes while its lease lives, a rival cannot, and once the
// lease ends the rival claims the run and the old owner's writes are
// refused.
func TestFencedOwnership(t *testing.T) {
	srv := etcdtest.Start(t)
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open := func(owner string) (*etcdstore.Store, clientv3.LeaseID) {
		cli := srv.Client(t)
		lease, err := cli.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		st := etcdstore.New(cli, "/fence", bs)
		st.Fence(owner, lease.ID)
		return st, lease.ID
	}
	a, leaseA := open("a")
	b, _ := open("b")
	run := &orchestratorv1.Run{Id: "r", State: orchestratorv1.RunState_RUN_STATE_RUNNING, CreateTime: timestamppb.Now()}
	ev := &orchestratorv1.RunEvent{Message: "step done"}
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"a creates the run and owns it", func() error { return a.PutRun(run) }, nil},
		{"a appends", func() error { _, err := a.AppendEvent("r", ev); return err }, nil},
		{"b cannot overwrite", func() error { return b.PutRun(run) }, store.ErrNotOwner},
		{"b cannot append", func() error { _, err := b.AppendEvent("r", ev); return err }, store.ErrNotOwner},
		{"b cannot put the run with an event", func() error { _, err := b.PutRunEvent(run, ev); return err }, store.ErrNotOwner},
		{"b cannot claim", func() error { return claimed(b, "r", false) }, nil},
		{"a's lease ends", func() error { _, err := a.Client().Revoke(ctx, leaseA); return err }, nil},
		{"a's late write is refused", func() error { return a.PutRun(run) }, store.ErrNotOwner},
		{"a's late event is refused", func() error { _, err := a.AppendEvent("r", ev); return err }, store.ErrNotOwner},
		{"a's late run with event is refused", func() error { _, err := a.PutRunEvent(run, ev); return err }, store.ErrNotOwner},
		{"b claims the orphan", func() error { return claimed(b, "r", true) }, nil},
		{"b writes", func() error { return b.PutRun(run) }, nil},
		{"a still cannot", func() error { return a.PutRun(run) }, store.ErrNotOwner},
	}
	for _, s := range steps {
		err := s.do()
		if (s.want == nil && err != nil) || (s.want != nil && !errors.Is(err, s.want)) {
			t.Fatalf("%s: error %v, want %v", s.name, err, s.want)
		}
	}
	if owner, err := a.Owner("r"); err != nil || owner != "b" {
		t.Fatalf("owner %q, %v; want b", owner, err)
	}
	evs, err := b.Events("r", 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events (%v), want only a's one before its lease ended", len(evs), err)
	}
	done := proto.CloneOf(run)
	done.State = orchestratorv1.RunState_RUN_STATE_SUCCEEDED
	if err := b.PutRun(done); err != nil {
		t.Fatal(err)
	}
	if err := claimed(a, "r", false); err != nil {
		t.Fatalf("a finished run: %v", err)
	}
}

// claimed checks that Claim answers want.
func claimed(st *etcdstore.Store, id string, want bool) error {
	_, ok, err := st.Claim(id)
	if err != nil {
		return err
	}
	if ok != want {
		return fmt.Errorf("Claim(%s) = %v, want %v", id, ok, want)
	}
	return nil
}

// flaky is a blob store that fails its next calls, as a blob volume or an
// object store that is briefly away does.
type flaky struct {
	blob.Store
	failures atomic.Int32
}

var errAway = errors.New("blob store unreachable")

func (f *flaky) fail() error {
	if f.failures.Add(-1) >= 0 {
		return errAway
	}
	return nil
}

func (f *flaky) Write(ctx context.Context, r io.Reader, limit int64) (string, int64, error) {
	if err := f.fail(); err != nil {
		return "", 0, err
	}
	return f.Store.Write(ctx, r, limit)
}

func (f *flaky) Open(ctx context.Context, digest string) (io.ReadCloser, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Open(ctx, digest)
}

// TestBlobOutageIsRetried has the blob store fail a few calls: replayable
// writes and reads are retried until it answers; a streamed write, which
// cannot be replayed, fails; with no retry window, so does everything.
func TestBlobOutageIsRetried(t *testing.T) {
	srv := etcdtest.Start(t)
	dir, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{Store: dir}
	st := etcdstore.New(srv.Client(t), "/flaky", f)
	content := []byte("precious")
	steps := []struct {
		name     string
		failures int32
		window   time.Duration
		do       func() error
		wantErr  bool
	}{
		{"put through 3 failures", 3, time.Minute, func() error { _, err := st.PutArtifact(nil, content); return err }, false},
		{"parts through 2 failures", 2, time.Minute, func() error {
			_, err := st.PutArtifactParts(nil, [][]byte{[]byte("pre"), []byte("cious!")})
			return err
		}, false},
		{"read through 3 failures", 3, time.Minute, func() error {
			got, err := st.ReadArtifact(digestOf(content))
			if err == nil && !bytes.Equal(got, content) {
				err = fmt.Errorf("read %q", got)
			}
			return err
		}, false},
		{"stream read through 2 failures", 2, time.Minute, func() error {
			return st.StreamArtifact(digestOf(content), func([]byte) error { return nil })
		}, false},
		{"a streamed write is not replayed", 1, time.Minute, func() error {
			_, err := st.PutArtifactStream(nil, bytes.NewReader([]byte("upload")))
			return err
		}, true},
		{"no window, no retry", 1, 0, func() error { _, err := st.PutArtifact(nil, []byte("other")); return err }, true},
	}
	for _, s := range steps {
		f.failures.Store(s.failures)
		st.SetBlobRetryWindow(s.window)
		err := s.do()
		if (err != nil) != s.wantErr || (err != nil && !errors.Is(err, errAway)) {
			t.Fatalf("%s: error %v, want error %v", s.name, err, s.wantErr)
		}
	}
}

func digestOf(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// TestClaimRace has four orchestrators race to claim the same orphaned
// runs: each run is won exactly once.
func TestClaimRace(t *testing.T) {
	srv := etcdtest.Start(t)
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cli := srv.Client(t)
	gone, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	departed := etcdstore.New(cli, "/claims", bs)
	departed.Fence("departed", gone.ID)
	const runs = 10
	for i := range runs {
		if err := departed.PutRun(&orchestratorv1.Run{Id: fmt.Sprint("r", i), State: orchestratorv1.RunState_RUN_STATE_RUNNING, CreateTime: timestamppb.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Revoke(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	var wins [runs]atomic.Int32
	var wg sync.WaitGroup
	for o := range 4 {
		c := srv.Client(t)
		lease, err := c.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		st := etcdstore.New(c, "/claims", bs)
		st.Fence(fmt.Sprint("o", o), lease.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range runs {
				_, ok, err := st.Claim(fmt.Sprint("r", i))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins[i].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("run r%d claimed %d times", i, n)
		}
	}
}

// TestOrphans lists the unfinished runs nobody owns, oldest first.
func TestOrphans(t *testing.T) {
	srv := etcdtest.Start(t)
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cli := srv.Client(t)
	live, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	alive := etcdstore.New(cli, "/orphans", bs)
	alive.Fence("alive", live.ID)
	dead := etcdstore.New(cli, "/orphans", bs)
	dead.Fence("dead", gone.ID)
	t0 := time.Now()
	for i, c := range []struct {
		st    *etcdstore.Store
		id    string
		state orchestratorv1.RunState
	}{
		{dead, "newest", orchestratorv1.RunState_RUN_STATE_RUNNING},
		{dead, "finished", orchestratorv1.RunState_RUN_STATE_SUCCEEDED},
		{alive, "owned", orchestratorv1.RunState_RUN_STATE_RUNNING},
		{dead, "oldest", orchestratorv1.RunState_RUN_STATE_PENDING},
	} {
		run := &orchestratorv1.Run{Id: c.id, State: c.state, CreateTime: timestamppb.New(t0.Add(-time.Duration(i) * time.Minute))}
		if err := c.st.PutRun(run); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Revoke(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	got, err := alive.Orphans()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[oldest newest]" {
		t.Fatalf("Orphans = %v, want [oldest newest]", got)
	}
}
