// Package store is the orchestrator's persistent state: content-addressed
// artifacts, runs, run events and the step cache, all in one bbolt file.
//
// The orchestrator is the only process that opens the file; stages never
// see it. Every value written stays at or below 1 MiB (ChunkSize), so no
// single bbolt value, and no gRPC message built from one, grows without
// bound. Updates that must agree (an artifact's manifest, metadata and
// indexes; a run and its indexes) happen in one transaction.
//
// Bucket layout (all keys are raw bytes; "lp(s)" is s prefixed by its
// length as a big-endian uint16, so a prefix scan for one id never matches
// another; "time" is the 12-byte order-preserving encoding of a
// timestamp, see timeKey):
//
//	meta               "schema" -> schema version (decimal text)
//	chunks             sha256(chunk) [32] -> chunk bytes (<= ChunkSize)
//	manifests          sha256(content) [32] -> size uint64 BE, then the
//	                   ordered chunk digests, 32 bytes each
//	artifacts          sha256(content) [32] -> orchestratorv1.Artifact
//	                   (deterministic proto), first producer's metadata
//	artifacts_by_time  time [12] | digest [32] -> empty; ListArtifacts("")
//	artifacts_by_run   lp(runID) | time [12] | digest [32] -> empty
//	artifact_runs      lp(runID) | digest [32] -> time [12]; dedupes the
//	                   by-run index when one run stores an artifact twice
//	runs               lp(runID) | part uint32 BE -> a slice of the
//	                   orchestratorv1.Run proto; a run larger than 1 MiB
//	                   (many trials with large confusion matrices) spans
//	                   several parts, reassembled in key order
//	runs_by_time       ^time [12] | runID -> empty; ascending key order is
//	                   newest first, ties broken by id
//	runs_unfinished    runID -> empty; runs in state PENDING or RUNNING
//	events             nested bucket per runID: sequence uint64 BE ->
//	                   orchestratorv1.RunEvent; the nested bucket's own
//	                   sequence numbers events from 1
//	cache              cache key -> output digests, 32 bytes each
//	datasets           lp(name) | version uint64 BE ->
//	                   orchestratorv1.DatasetVersion (deterministic proto);
//	                   versions are written once, in order, never changed
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
)

// ChunkSize is the largest artifact chunk, and the largest value the store
// writes. 1 MiB keeps each chunk sendable as one gRPC message well under the
// 4 MiB default limit.
const ChunkSize = 1 << 20

// digestSize is the length of a raw sha256 digest.
const digestSize = 32

// manifestHeader is the size prefix of a manifest value.
const manifestHeader = 8

// maxManifestChunks is the most chunks one manifest value (<= ChunkSize)
// can name.
const maxManifestChunks = (ChunkSize - manifestHeader) / digestSize

// MaxArtifactSize is the largest artifact the store accepts (32767 MiB):
// its manifest must fit in one value of at most ChunkSize.
const MaxArtifactSize = int64(maxManifestChunks) * ChunkSize

// MaxIDLength bounds run ids and cache keys, which become bbolt keys.
const MaxIDLength = 256

// DefaultPageSize is the ListRuns page size used when pageSize is 0, and
// MaxPageSize the largest page it returns.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// schemaVersion is the layout described in the package comment. Open
// refuses a file written with another version rather than misreading it.
const schemaVersion = 1

// defaultLockTimeout is how long Open waits for another process's file
// lock before giving up.
const defaultLockTimeout = 2 * time.Second

// lockTimeout is defaultLockTimeout; tests shorten it.
var lockTimeout = defaultLockTimeout

// ErrNotFound reports a missing run or artifact. It is wrapped with
// context; check with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrCorrupt reports stored content that no longer matches its digest, or
// whose chunks are missing. It is wrapped with context; check with
// errors.Is.
var ErrCorrupt = errors.New("artifact digest mismatch")

// ErrInvalidDigest reports a digest that is not 64 lowercase hexadecimal
// characters. Errors wrapping it also match ErrNotFound, since no artifact
// can have such a name.
var ErrInvalidDigest = errors.New("invalid digest")

// ErrBadPageToken reports a ListRuns page token this store did not issue.
var ErrBadPageToken = errors.New("invalid page token")

// ErrLocked reports that another process holds the store file open.
var ErrLocked = errors.New("store file is locked by another process")

// ErrNotOwner reports a write to a run another orchestrator owns (a shared
// store fences each run to its owner), or whose ownership this one lost.
var ErrNotOwner = errors.New("run is owned by another orchestrator")

// ErrUnavailable reports a store, or the blob store behind it, that
// could not be reached for as long as the store retries: the same call
// may succeed later, so runs pause and retry rather than fail.
var ErrUnavailable = errors.New("store unavailable")

// ErrTooLarge reports a value beyond the store's limits (MaxArtifactSize,
// or a metadata, event or cache entry over ChunkSize).
var ErrTooLarge = errors.New("too large")

// Bucket names; see the package comment.
var (
	bucketMeta            = []byte("meta")
	bucketChunks          = []byte("chunks")
	bucketManifests       = []byte("manifests")
	bucketArtifacts       = []byte("artifacts")
	bucketArtifactsByTime = []byte("artifacts_by_time")
	bucketArtifactsByRun  = []byte("artifacts_by_run")
	bucketArtifactRuns    = []byte("artifact_runs")
	bucketRuns            = []byte("runs")
	bucketRunsByTime      = []byte("runs_by_time")
	bucketRunsUnfinished  = []byte("runs_unfinished")
	bucketEvents          = []byte("events")
	bucketCache           = []byte("cache")
	bucketDatasets        = []byte("datasets")

	allBuckets = [][]byte{
		bucketMeta, bucketChunks, bucketManifests, bucketArtifacts,
		bucketArtifactsByTime, bucketArtifactsByRun, bucketArtifactRuns,
		bucketRuns, bucketRunsByTime, bucketRunsUnfinished, bucketEvents,
		bucketCache, bucketDatasets,
	}
)

// marshalOpts makes stored protos byte-stable, so equal messages are
// stored identically.
var marshalOpts = proto.MarshalOptions{Deterministic: true}

// Store is the orchestrator's bbolt-backed state. It is safe for
// concurrent use by multiple goroutines of one process.
type Store struct {
	db   *bolt.DB
	path string

	mu sync.Mutex
	// pinned counts chunks written by artifact puts still in progress, so
	// GC does not sweep them before their manifest commits.
	pinned map[[digestSize]byte]int
	// lastArtifactTime makes artifact create times strictly increasing,
	// so "oldest first" is insertion order even on a coarse clock.
	lastArtifactTime time.Time
}

// Open opens or creates the store file at path (mode 0600, parent
// directories 0700) and its buckets. If another process holds the file,
// Open fails with ErrLocked after a short wait instead of hanging.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		// The freelist is synced so that reopening after a crash does
		// not scan the whole file.
		NoFreelistSync: false,
		// The hashmap freelist stays fast when GC frees many chunk pages.
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w (waited %v)", path, ErrLocked, lockTimeout)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, pinned: make(map[[digestSize]byte]int)}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// init creates the buckets, checks the schema version and recovers the
// latest artifact time.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		want := strconv.Itoa(schemaVersion)
		switch got := meta.Get([]byte("schema")); {
		case got == nil:
			if err := meta.Put([]byte("schema"), []byte(want)); err != nil {
				return err
			}
		case string(got) != want:
			return fmt.Errorf("schema version %q, this build reads %q", got, want)
		}
		if k, _ := tx.Bucket(bucketArtifactsByTime).Cursor().Last(); len(k) >= timeKeySize {
			s.lastArtifactTime = decodeTimeKey(k[:timeKeySize])
		}
		return nil
	})
}

// Close closes the file. The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file path the store was opened with.
func (s *Store) Path() string { return s.path }

// checkValueSize rejects a value the store would refuse to write whole.
func checkValueSize(what string, n int) error {
	if n > ChunkSize {
		return fmt.Errorf("%s is %d bytes, over the %d-byte limit: %w", what, n, ChunkSize, ErrTooLarge)
	}
	return nil
}

// checkID validates a run id or cache key before it becomes a key.
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", what)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%s is %d bytes, over the %d-byte limit", what, len(id), MaxIDLength)
	}
	return nil
}
