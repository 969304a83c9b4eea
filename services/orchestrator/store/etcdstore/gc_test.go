package etcdstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestBlobGC has the collector sweep a blob store holding referenced
// content, an old orphan and a young orphan: only the old orphan goes, and
// every artifact still reads. In a directory the orphan is made old by
// its file time; in a bucket, whose object times the server sets, by a
// grace period shorter than the orphan's age, and a young orphan is one
// under the default hour.
func TestBlobGC(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := context.Background()
	type driver struct {
		name  string
		open  func(t *testing.T) blob.Store
		age   func(t *testing.T, digest string) // makes a blob old, when the driver can
		grace time.Duration                     // the collector's grace period
	}
	var dir string
	s3 := s3test.Start(t)
	drivers := []driver{
		{"Dir", func(t *testing.T) blob.Store {
			dir = t.TempDir()
			d, err := blob.NewDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, func(t *testing.T, digest string) {
			old := time.Now().Add(-2 * time.Hour)
			if err := os.Chtimes(filepath.Join(dir, "sha256", digest[:2], digest), old, old); err != nil {
				t.Fatal(err)
			}
		}, time.Hour},
		{"S3", func(t *testing.T) blob.Store {
			bs, err := blob.Open(s3.URL("gc"))
			if err != nil {
				t.Fatal(err)
			}
			return bs
		}, nil, time.Nanosecond},
	}
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			bs := d.open(t)
			st := etcdstore.New(cli, "/gc-"+d.name, bs)
			st.SetBlobGCGrace(d.grace)
			kept, err := st.PutArtifact(nil, []byte("referenced content"))
			if err != nil {
				t.Fatal(err)
			}
			orphan, _, err := bs.Write(ctx, bytes.NewReader([]byte("a write whose metadata never committed")), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if d.age != nil {
				d.age(t, kept.GetDigest())
				d.age(t, orphan)
			}
			n, size, err := st.CollectBlobs(ctx)
			if err != nil || n != 1 || size != int64(len("a write whose metadata never committed")) {
				t.Fatalf("CollectBlobs = %d, %d, %v; want the one orphan", n, size, err)
			}
			if _, err := bs.Open(ctx, orphan); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("orphan after GC: %v", err)
			}
			if b, err := st.ReadArtifact(kept.GetDigest()); err != nil || string(b) != "referenced content" {
				t.Fatalf("referenced artifact after GC: %q, %v", b, err)
			}

			// A blob younger than the default grace period is spared:
			// a write in flight, its metadata not yet committed.
			st.SetBlobGCGrace(0)
			young, _, err := bs.Write(ctx, bytes.NewReader([]byte("in flight")), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if n, _, err := st.CollectBlobs(ctx); err != nil || n != 0 {
				t.Fatalf("CollectBlobs with a young orphan = %d, %v; want nothing removed", n, err)
			}
			if _, err := st.PutArtifact(nil, []byte("in flight")); err != nil {
				t.Fatal(err)
			}
			if b, err := st.ReadArtifact(young); err != nil || string(b) != "in flight" {
				t.Fatalf("the in-flight write after GC: %q, %v", b, err)
			}
		})
	}
}

// TestBlobGCStart runs the collector as the orchestrator does and reads
// its first report.
func TestBlobGCStart(t *testing.T) {
	srv := etcdtest.Start(t)
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := etcdstore.New(srv.Client(t), "/gcstart", bs)
	var _ store.Collector = st
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan error, 1)
	st.StartGC(ctx, 0, func(n int, b int64, err error) { reports <- err })
	if err := <-reports; err != nil {
		t.Fatal(err)
	}
}
