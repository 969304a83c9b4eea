package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// DefaultBlobGCGrace is how old an unreferenced blob must be before the
// collector deletes it: far longer than any write takes from its blob to
// its metadata, and than the clock skew between the orchestrators and the
// object store.
const DefaultBlobGCGrace = time.Hour

// SetBlobGCGrace changes the age below which the collector spares an
// unreferenced blob (0 or less: DefaultBlobGCGrace). Call before use.
func (s *Store) SetBlobGCGrace(d time.Duration) {
	if d <= 0 {
		d = DefaultBlobGCGrace
	}
	s.gcGrace = d
}

// CollectBlobs deletes the orphan blobs: content no artifact's metadata
// names, written (or last rewritten) more than the grace period ago. Every
// run, dataset version and model reaches its content through artifact
// metadata, which is never deleted, so content without metadata is what a
// write left when it stored its blob and then failed, or crashed, before
// its metadata committed.
//
// Mark, then sweep: the digests under art/ are read first, then the blob
// store is listed. A blob written after the mark is young and spared; one
// rewritten by a writer that is about to commit metadata for it (a write
// of content already stored renews its time) is young again and spared
// too. Just before a delete, the metadata is looked up once more. What
// remains is a writer that rewrites an old orphan between that look-up
// and the delete, milliseconds: its metadata then names content that is
// gone, which a read reports as data loss, and writing the same content
// again (a retried step does) heals it.
func (s *Store) CollectBlobs(ctx context.Context) (removed int, removedBytes int64, err error) {
	grace := s.gcGrace
	if grace <= 0 {
		grace = DefaultBlobGCGrace
	}
	referenced, err := s.artifactDigests(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("blob gc: mark: %w", err)
	}
	cutoff := time.Now().Add(-grace)
	var orphans []blob.Info
	err = s.blobs.Walk(ctx, func(i blob.Info) error {
		if !referenced[i.Digest] && i.ModTime.Before(cutoff) {
			orphans = append(orphans, i)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("blob gc: sweep %s: %w", s.blobs.Location(), err)
	}
	for _, o := range orphans {
		switch _, err := s.StatArtifact(o.Digest); {
		case err == nil:
			continue // its metadata committed since the mark
		case !errors.Is(err, store.ErrNotFound):
			return removed, removedBytes, fmt.Errorf("blob gc: %w", err)
		}
		if err := s.blobs.Delete(ctx, o.Digest); err != nil {
			return removed, removedBytes, fmt.Errorf("blob gc: %w", err)
		}
		removed++
		removedBytes += o.Size
	}
	return removed, removedBytes, nil
}

// artifactDigests returns the digest of every artifact with metadata.
func (s *Store) artifactDigests(ctx context.Context) (map[string]bool, error) {
	base := s.key("art") + "/"
	out := map[string]bool{}
	// Pages of keys, so a store of many artifacts is read in bounded
	// responses.
	from := base
	end := clientv3.GetPrefixRangeEnd(base)
	for {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := s.cli.Get(cctx, from, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(10000))
		cancel()
		if err != nil {
			return nil, err
		}
		for _, kv := range resp.Kvs {
			out[strings.TrimPrefix(string(kv.Key), base)] = true
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// StartGC collects orphan blobs (CollectBlobs) now, then every interval
// (0 or less: never again) until ctx is done, calling report (when not
// nil) after each collection. It returns at once: a collection lists the
// whole blob store, which takes a while on a large bucket. Every
// orchestrator sharing the store may run it; their deletes agree.
func (s *Store) StartGC(ctx context.Context, interval time.Duration, report func(removedBlobs int, removedBytes int64, err error)) {
	run := func() {
		n, b, err := s.CollectBlobs(ctx)
		if report != nil && ctx.Err() == nil {
			report(n, b, err)
		}
	}
	go func() {
		run()
		if interval <= 0 {
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				run()
			}
		}
	}()
}

var _ store.Collector = (*Store)(nil)
