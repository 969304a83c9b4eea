package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// groupChunks is how many chunks an artifact write commits per
// transaction: large enough to amortise bbolt's fsync, small enough that a
// streamed write holds at most 8 MiB in memory.
const groupChunks = 8

// pendingChunk is a chunk read but not yet committed.
type pendingChunk struct {
	digest [digestSize]byte
	data   []byte
}

// PutArtifact stores content as an artifact and returns its metadata with
// digest, size and create_time set. meta may be nil. If meta declares a
// digest or a non-zero size that the content does not have, PutArtifact
// fails with ErrCorrupt. If an artifact with the same digest exists, its
// first metadata is kept (first producer wins for lineage) and returned;
// the new run, if any, is linked to it so ListArtifacts of that run shows
// it.
func (s *Store) PutArtifact(meta *orchestratorv1.Artifact, content []byte) (*orchestratorv1.Artifact, error) {
	if int64(len(content)) > MaxArtifactSize {
		return nil, fmt.Errorf("artifact of %d bytes exceeds %d bytes: %w", len(content), MaxArtifactSize, ErrTooLarge)
	}
	off := 0
	return s.put(meta, func() ([]byte, error) {
		if off >= len(content) {
			return nil, io.EOF
		}
		end := min(off+ChunkSize, len(content))
		c := content[off:end]
		off = end
		return c, nil
	})
}

// PutArtifactParts is PutArtifact for content given as consecutive parts,
// each cut into chunks on its own: a part that recurs in another artifact
// (the blocks of unchanged batches in successive dataset versions) is
// stored once, its chunks shared. Chunks are therefore not all ChunkSize
// long; the digest is that of the concatenated parts.
func (s *Store) PutArtifactParts(meta *orchestratorv1.Artifact, parts [][]byte) (*orchestratorv1.Artifact, error) {
	var total int64
	for _, p := range parts {
		total += int64(len(p))
	}
	if total > MaxArtifactSize {
		return nil, fmt.Errorf("artifact of %d bytes exceeds %d bytes: %w", total, MaxArtifactSize, ErrTooLarge)
	}
	i, off := 0, 0
	return s.put(meta, func() ([]byte, error) {
		for i < len(parts) && off >= len(parts[i]) {
			i, off = i+1, 0
		}
		if i == len(parts) {
			return nil, io.EOF
		}
		end := min(off+ChunkSize, len(parts[i]))
		c := parts[i][off:end]
		off = end
		return c, nil
	})
}

// PutArtifactStream is PutArtifact for content read from r until io.EOF,
// which may be larger than memory. Chunks are committed as they come, a few
// per transaction; the manifest and metadata are committed last, in one
// transaction, so a failed read or write (a refused or aborted upload)
// leaves no artifact visible, and the chunks it wrote that nothing else
// references are deleted before it returns.
func (s *Store) PutArtifactStream(meta *orchestratorv1.Artifact, r io.Reader) (*orchestratorv1.Artifact, error) {
	if r == nil {
		return nil, errors.New("put artifact: nil reader")
	}
	// Buffers are recycled round-robin: put commits every groupChunks
	// chunks, so slot i is free again when it comes round.
	var bufs [groupChunks][]byte
	n := 0
	done := false
	return s.put(meta, func() ([]byte, error) {
		if done {
			return nil, io.EOF
		}
		slot := n % groupChunks
		if bufs[slot] == nil {
			bufs[slot] = make([]byte, ChunkSize)
		}
		got, err := io.ReadFull(r, bufs[slot])
		switch {
		case err == io.EOF:
			return nil, io.EOF
		case err == io.ErrUnexpectedEOF:
			done = true
		case err != nil:
			return nil, err
		}
		n++
		return bufs[slot][:got], nil
	})
}

// put runs an artifact write. next returns successive chunks (each at most
// ChunkSize bytes; all but the last exactly ChunkSize unless the caller
// aligns chunks to parts, so chunking does not depend on how content
// arrives) and io.EOF at the end; a chunk must stay valid until
// groupChunks more have been requested. A failed write deletes the chunks
// it added that no manifest references (see removeUnreferenced), so a
// refused or aborted upload strands nothing; so does a write whose
// content was already stored under other chunks (the same bytes cut into
// parts differently), whose new chunks nothing needs.
func (s *Store) put(meta *orchestratorv1.Artifact, next func() ([]byte, error)) (*orchestratorv1.Artifact, error) {
	var added [][digestSize]byte
	var existed bool
	a, err := s.putChunked(meta, next, &added, &existed)
	if (err != nil || existed) && len(added) > 0 {
		if _, _, cerr := s.removeUnreferenced(added); cerr != nil {
			err = fmt.Errorf("%w (and removing its chunks: %v)", err, cerr)
		}
	}
	return a, err
}

// putChunked is put without the clean-up; it appends the digests of the
// chunks it wrote that were not stored before to added.
func (s *Store) putChunked(meta *orchestratorv1.Artifact, next func() ([]byte, error), added *[][digestSize]byte, existed *bool) (*orchestratorv1.Artifact, error) {
	m, err := prepareArtifactMeta(meta)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	var size int64
	var digests [][digestSize]byte
	pending := make([]pendingChunk, 0, groupChunks)
	defer func() { s.unpin(digests) }()
	for {
		c, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("put artifact: read content: %w", err)
		}
		if len(c) == 0 {
			continue
		}
		size += int64(len(c))
		if size > MaxArtifactSize {
			return nil, fmt.Errorf("put artifact: content exceeds %d bytes: %w", MaxArtifactSize, ErrTooLarge)
		}
		h.Write(c)
		d := sha256.Sum256(c)
		s.pin(d)
		digests = append(digests, d)
		pending = append(pending, pendingChunk{digest: d, data: c})
		if len(pending) == groupChunks {
			if err := s.db.Update(func(tx *bolt.Tx) error { return putChunks(tx, pending, added) }); err != nil {
				return nil, fmt.Errorf("put artifact: write chunks: %w", err)
			}
			pending = pending[:0]
		}
	}
	var digest [digestSize]byte
	h.Sum(digest[:0])
	hexDigest := formatDigest(digest[:])
	if m.GetDigest() != "" && m.GetDigest() != hexDigest {
		return nil, fmt.Errorf("put artifact: content has digest %s, metadata declares %s: %w", hexDigest, m.GetDigest(), ErrCorrupt)
	}
	if m.GetSize() != 0 && m.GetSize() != size {
		return nil, fmt.Errorf("put artifact %s: content has %d bytes, metadata declares %d: %w", hexDigest, size, m.GetSize(), ErrCorrupt)
	}
	manifest := encodeManifest(size, digests)

	var out *orchestratorv1.Artifact
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := putChunks(tx, pending, added); err != nil {
			return err
		}
		chunks := tx.Bucket(bucketChunks)
		for i, d := range digests {
			if chunks.Get(d[:]) == nil {
				return fmt.Errorf("chunk %d (%x) vanished before the manifest was written", i, d)
			}
		}
		if existing := tx.Bucket(bucketManifests).Get(digest[:]); existing != nil {
			prev, err := getArtifactMeta(tx, digest[:])
			if err == nil {
				out = prev
				*existed = true
				if m.GetRunId() != "" {
					return s.linkRun(tx, m.GetRunId(), digest[:])
				}
				return nil
			}
			if !errors.Is(err, ErrNotFound) {
				return err
			}
			// A manifest without metadata cannot come from this code, but
			// if a file has one, rewriting both repairs it.
		}
		now := s.nextArtifactTime()
		m.Digest = hexDigest
		m.Size = size
		m.CreateTime = timestamppb.New(now)
		raw, err := marshalOpts.Marshal(m)
		if err != nil {
			return fmt.Errorf("marshal metadata: %w", err)
		}
		if err := checkValueSize("artifact metadata", len(raw)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketManifests).Put(digest[:], manifest); err != nil {
			return err
		}
		if err := tx.Bucket(bucketArtifacts).Put(digest[:], raw); err != nil {
			return err
		}
		tk := timeKey(now)
		if err := tx.Bucket(bucketArtifactsByTime).Put(concat(tk[:], digest[:]), nil); err != nil {
			return err
		}
		if m.GetRunId() != "" {
			if err := putRunLink(tx, m.GetRunId(), digest[:], tk); err != nil {
				return err
			}
		}
		out = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put artifact %s: %w", hexDigest, err)
	}
	return out, nil
}

// prepareArtifactMeta copies and validates caller metadata.
func prepareArtifactMeta(meta *orchestratorv1.Artifact) (*orchestratorv1.Artifact, error) {
	m := &orchestratorv1.Artifact{}
	if meta != nil {
		m = proto.Clone(meta).(*orchestratorv1.Artifact)
	}
	if m.GetRunId() != "" {
		if err := checkID("artifact run_id", m.GetRunId()); err != nil {
			return nil, err
		}
	}
	if m.GetDigest() != "" {
		if _, err := parseDigest(m.GetDigest()); err != nil {
			return nil, fmt.Errorf("artifact digest: %w", err)
		}
	}
	if m.GetSize() < 0 {
		return nil, fmt.Errorf("artifact size %d is negative", m.GetSize())
	}
	for i, d := range m.GetInputDigests() {
		if _, err := parseDigest(d); err != nil {
			return nil, fmt.Errorf("artifact input_digests[%d]: %w", i, err)
		}
	}
	return m, nil
}

// putChunks writes chunks that are missing or whose stored bytes differ
// (a damaged copy is healed by a good one), and appends the digests of
// those that were missing to added. A transaction that fails commits
// nothing, but its chunks are listed anyway: removing them again is
// harmless.
func putChunks(tx *bolt.Tx, pending []pendingChunk, added *[][digestSize]byte) error {
	b := tx.Bucket(bucketChunks)
	for _, c := range pending {
		old := b.Get(c.digest[:])
		if old != nil && bytes.Equal(old, c.data) {
			continue
		}
		if old == nil {
			*added = append(*added, c.digest)
		}
		if err := b.Put(c.digest[:], c.data); err != nil {
			return fmt.Errorf("write chunk %x: %w", c.digest, err)
		}
	}
	return nil
}

// liveChunks returns the chunks that some manifest references or a write
// in progress has pinned. It must be called inside a writable
// transaction: a put that pins a chunk after this point commits its chunk
// writes after that transaction, so it never loses a chunk to a sweep.
func (s *Store) liveChunks(tx *bolt.Tx) (map[[digestSize]byte]struct{}, error) {
	live := make(map[[digestSize]byte]struct{})
	err := tx.Bucket(bucketManifests).ForEach(func(k, v []byte) error {
		_, ds, err := decodeManifest(v)
		if err != nil {
			return fmt.Errorf("artifact %x: %w", k, err)
		}
		for _, d := range ds {
			live[d] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for d := range s.pinned {
		live[d] = struct{}{}
	}
	s.mu.Unlock()
	return live, nil
}

// removeUnreferenced deletes those of the given chunks that no manifest
// references and no write in progress has pinned, returning how many and
// their bytes. A failed put calls it for the chunks it added; another put
// sharing such a chunk either pinned it (and keeps it) or already
// committed a manifest naming it.
func (s *Store) removeUnreferenced(candidates [][digestSize]byte) (removed int, bytes int64, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		removed, bytes = 0, 0
		live, err := s.liveChunks(tx)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketChunks)
		for _, d := range candidates {
			if _, ok := live[d]; ok {
				continue
			}
			v := b.Get(d[:])
			if v == nil {
				continue
			}
			bytes += int64(len(v))
			removed++
			if err := b.Delete(d[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("remove chunks: %w", err)
	}
	return removed, bytes, nil
}

// pin protects a chunk from GC while its artifact is being written.
func (s *Store) pin(d [digestSize]byte) {
	s.mu.Lock()
	s.pinned[d]++
	s.mu.Unlock()
}

// unpin releases pins taken by pin, one per occurrence.
func (s *Store) unpin(ds [][digestSize]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if s.pinned[d] <= 1 {
			delete(s.pinned, d)
		} else {
			s.pinned[d]--
		}
	}
}

// nextArtifactTime returns now, or just after the last artifact time if
// the clock has not advanced, so artifact times are strictly increasing.
func (s *Store) nextArtifactTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC().Round(0)
	if !now.After(s.lastArtifactTime) {
		now = s.lastArtifactTime.Add(time.Nanosecond)
	}
	s.lastArtifactTime = now
	return now
}

// linkRun associates an existing artifact with runID, unless it already is.
func (s *Store) linkRun(tx *bolt.Tx, runID string, digest []byte) error {
	if tx.Bucket(bucketArtifactRuns).Get(concat(lp(runID), digest)) != nil {
		return nil
	}
	return putRunLink(tx, runID, digest, timeKey(s.nextArtifactTime()))
}

// putRunLink writes both by-run index entries.
func putRunLink(tx *bolt.Tx, runID string, digest []byte, tk [timeKeySize]byte) error {
	p := lp(runID)
	if err := tx.Bucket(bucketArtifactRuns).Put(concat(p, digest), tk[:]); err != nil {
		return err
	}
	return tx.Bucket(bucketArtifactsByRun).Put(concat(p, tk[:], digest), nil)
}

// LinkArtifact records that run runID uses an existing artifact (such as a
// cached step's output), so ListArtifacts(runID) includes it. The
// artifact's lineage metadata is unchanged. Linking twice is a no-op.
func (s *Store) LinkArtifact(runID, digest string) error {
	if err := checkID("run id", runID); err != nil {
		return err
	}
	d, err := parseDigest(digest)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketManifests).Get(d[:]) == nil {
			return fmt.Errorf("artifact %s: %w", digest, ErrNotFound)
		}
		return s.linkRun(tx, runID, d[:])
	})
}

// encodeManifest lays out a manifest value: size, then chunk digests.
func encodeManifest(size int64, digests [][digestSize]byte) []byte {
	b := make([]byte, manifestHeader, manifestHeader+len(digests)*digestSize)
	binary.BigEndian.PutUint64(b, uint64(size))
	for _, d := range digests {
		b = append(b, d[:]...)
	}
	return b
}

// decodeManifest parses a manifest value and checks that its size agrees
// with its chunk count: every chunk holds 1 to ChunkSize bytes (all but
// the last are full unless the artifact was written in parts, see
// PutArtifactParts).
func decodeManifest(v []byte) (size int64, digests [][digestSize]byte, err error) {
	if len(v) < manifestHeader || (len(v)-manifestHeader)%digestSize != 0 {
		return 0, nil, fmt.Errorf("manifest of %d bytes is malformed: %w", len(v), ErrCorrupt)
	}
	u := binary.BigEndian.Uint64(v)
	n := (len(v) - manifestHeader) / digestSize
	if u > uint64(n)*ChunkSize || u < uint64(n) {
		return 0, nil, fmt.Errorf("manifest size %d does not fit %d chunks: %w", u, n, ErrCorrupt)
	}
	digests = make([][digestSize]byte, n)
	for i := range digests {
		copy(digests[i][:], v[manifestHeader+i*digestSize:])
	}
	return int64(u), digests, nil
}

// getArtifactMeta reads an artifact's metadata within tx.
func getArtifactMeta(tx *bolt.Tx, digest []byte) (*orchestratorv1.Artifact, error) {
	v := tx.Bucket(bucketArtifacts).Get(digest)
	if v == nil {
		return nil, fmt.Errorf("artifact %x: %w", digest, ErrNotFound)
	}
	a := &orchestratorv1.Artifact{}
	if err := proto.Unmarshal(v, a); err != nil {
		return nil, fmt.Errorf("artifact %x: decode metadata: %w", digest, err)
	}
	return a, nil
}

// StatArtifact returns an artifact's metadata, or an error matching
// ErrNotFound.
func (s *Store) StatArtifact(digest string) (*orchestratorv1.Artifact, error) {
	d, err := parseDigest(digest)
	if err != nil {
		return nil, err
	}
	var a *orchestratorv1.Artifact
	err = s.db.View(func(tx *bolt.Tx) error {
		a, err = getArtifactMeta(tx, d[:])
		return err
	})
	return a, err
}

// manifest reads an artifact's manifest.
func (s *Store) manifest(digest string) (d [digestSize]byte, size int64, chunks [][digestSize]byte, err error) {
	d, err = parseDigest(digest)
	if err != nil {
		return d, 0, nil, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketManifests).Get(d[:])
		if v == nil {
			return fmt.Errorf("artifact %s: %w", digest, ErrNotFound)
		}
		size, chunks, err = decodeManifest(v)
		if err != nil {
			return fmt.Errorf("artifact %s: %w", digest, err)
		}
		return nil
	})
	return d, size, chunks, err
}

// StreamArtifact hands an artifact's content to fn one chunk (at most
// ChunkSize bytes) at a time, in order. Each chunk is a fresh copy, checked
// against its own digest before fn sees it; the whole content is checked
// against the artifact digest at the end. A mismatch or a missing chunk
// returns an error matching ErrCorrupt; an error from fn is returned as is.
// Each chunk is read in its own short transaction, so a slow consumer does
// not hold the database.
func (s *Store) StreamArtifact(digest string, fn func(chunk []byte) error) error {
	d, size, chunks, err := s.manifest(digest)
	if err != nil {
		return err
	}
	return s.streamChunks(d, size, chunks, fn)
}

// streamChunks is StreamArtifact after the manifest is read.
func (s *Store) streamChunks(d [digestSize]byte, size int64, chunks [][digestSize]byte, fn func([]byte) error) error {
	h := sha256.New()
	var total int64
	for i, cd := range chunks {
		var data []byte
		err := s.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketChunks).Get(cd[:])
			if v == nil {
				return fmt.Errorf("artifact %x: chunk %d (%x) is missing: %w", d, i, cd, ErrCorrupt)
			}
			data = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return err
		}
		if sha256.Sum256(data) != cd {
			return fmt.Errorf("artifact %x: chunk %d (%x): %w", d, i, cd, ErrCorrupt)
		}
		h.Write(data)
		total += int64(len(data))
		if err := fn(data); err != nil {
			return err
		}
	}
	var got [digestSize]byte
	h.Sum(got[:0])
	if total != size {
		return fmt.Errorf("artifact %x: chunks hold %d bytes, manifest says %d: %w", d, total, size, ErrCorrupt)
	}
	if got != d {
		return fmt.Errorf("artifact %x: content hashes to %x: %w", d, got, ErrCorrupt)
	}
	return nil
}

// ReadArtifact returns an artifact's whole content, verified like
// StreamArtifact. Use StreamArtifact for content that may not fit in
// memory.
func (s *Store) ReadArtifact(digest string) ([]byte, error) {
	d, size, chunks, err := s.manifest(digest)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, size)
	err = s.streamChunks(d, size, chunks, func(c []byte) error {
		out = append(out, c...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListArtifacts returns the artifacts linked to runID (produced by it
// first, reused by it, or linked with LinkArtifact), or every artifact when
// runID is empty, oldest first.
func (s *Store) ListArtifacts(runID string) ([]*orchestratorv1.Artifact, error) {
	if runID != "" {
		if err := checkID("run id", runID); err != nil {
			return nil, err
		}
	}
	var out []*orchestratorv1.Artifact
	err := s.db.View(func(tx *bolt.Tx) error {
		var c *bolt.Cursor
		var prefix []byte
		if runID == "" {
			c = tx.Bucket(bucketArtifactsByTime).Cursor()
		} else {
			c = tx.Bucket(bucketArtifactsByRun).Cursor()
			prefix = lp(runID)
		}
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+timeKeySize+digestSize {
				return fmt.Errorf("artifact index key %x is malformed", k)
			}
			a, err := getArtifactMeta(tx, k[len(prefix)+timeKeySize:])
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	return out, nil
}

// GC deletes chunks that no manifest references and no write in progress
// is about to reference (left by a write that failed without cleaning up,
// such as one cut short by a crash), and returns how many it removed. It
// refuses to run if a manifest is unreadable, since it could not tell
// which chunks that manifest needs. GCBytes also returns the bytes freed.
func (s *Store) GC() (removedChunks int, err error) {
	removedChunks, _, err = s.GCBytes()
	return removedChunks, err
}

// GCBytes is GC returning the bytes of the chunks removed too.
func (s *Store) GCBytes() (removedChunks int, removedBytes int64, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		removedChunks, removedBytes = 0, 0
		live, err := s.liveChunks(tx)
		if err != nil {
			return err
		}
		var doomed [][]byte
		err = tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			var d [digestSize]byte
			if len(k) == digestSize {
				copy(d[:], k)
				if _, ok := live[d]; ok {
					return nil
				}
			}
			doomed = append(doomed, bytes.Clone(k))
			removedBytes += int64(len(v))
			return nil
		})
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketChunks)
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		removedChunks = len(doomed)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("gc: %w", err)
	}
	return removedChunks, removedBytes, nil
}

// Usage is what the chunk bucket holds.
type Usage struct {
	// Chunks and Bytes count every stored chunk.
	Chunks int
	Bytes  int64
	// OrphanChunks and OrphanBytes count the chunks no manifest references
	// and no write in progress has pinned: what GC would remove.
	OrphanChunks int
	OrphanBytes  int64
}

// Usage counts the stored chunks and the orphans among them.
func (s *Store) Usage() (Usage, error) {
	var u Usage
	// A writable transaction, like GC's, so pins are read consistently.
	err := s.db.Update(func(tx *bolt.Tx) error {
		u = Usage{}
		live, err := s.liveChunks(tx)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			u.Chunks++
			u.Bytes += int64(len(v))
			var d [digestSize]byte
			copy(d[:], k)
			if _, ok := live[d]; !ok || len(k) != digestSize {
				u.OrphanChunks++
				u.OrphanBytes += int64(len(v))
			}
			return nil
		})
	})
	if err != nil {
		return Usage{}, fmt.Errorf("usage: %w", err)
	}
	return u, nil
}

// StartGC runs GC once now, then every interval (0 or less: never again)
// until ctx is done, calling report (when not nil) after each run with
// what it removed. Writes that fail clean up their own chunks; GC catches
// what a crash mid-write left.
func (s *Store) StartGC(ctx context.Context, interval time.Duration, report func(removedChunks int, removedBytes int64, err error)) {
	run := func() {
		n, b, err := s.GCBytes()
		if report != nil {
			report(n, b, err)
		}
	}
	run()
	if interval <= 0 {
		return
	}
	go func() {
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
