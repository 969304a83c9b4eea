package store

import (
	"context"
	"io"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Runs keeps runs and their event logs. A run's record and its indexes
// (by time, unfinished) change together; events of one run are numbered
// from 1 in the order they were appended.
type Runs interface {
	// PutRun stores or replaces a run.
	PutRun(run *orchestratorv1.Run) error
	// GetRun returns a run, or an error matching ErrNotFound.
	GetRun(id string) (*orchestratorv1.Run, error)
	// ListRuns returns a page of runs, newest first, and the token of the
	// next page ("" after the last); a token it did not issue fails with
	// ErrBadPageToken.
	ListRuns(pageSize int, pageToken string) (runs []*orchestratorv1.Run, next string, err error)
	// UnfinishedRuns returns the runs that still need work: in state
	// PENDING or RUNNING, or ended with their report still to store
	// (report_pending).
	UnfinishedRuns() ([]*orchestratorv1.Run, error)
	// AppendEvent numbers ev and appends it to the run's log.
	AppendEvent(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error)
	// PutRunEvent is PutRun and AppendEvent in one transaction: a run's
	// new state and the event announcing it are stored together or not
	// at all, so a crash between them cannot leave, say, a finished run
	// without its terminal event.
	PutRunEvent(run *orchestratorv1.Run, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error)
	// Events returns the run's events numbered after afterSeq, in order.
	Events(runID string, afterSeq int64) ([]*orchestratorv1.RunEvent, error)
}

// StepCache maps a step's cache key (CacheKey) to its output digests.
type StepCache interface {
	// CachePut records a step's outputs.
	CachePut(key string, outputs []string) error
	// CacheGet returns a step's recorded outputs, ok false when none are.
	CacheGet(key string) (outputs []string, ok bool, err error)
}

// Datasets keeps the versions of named datasets; a version is written
// once, in order, and never changed.
type Datasets interface {
	// PutDatasetVersion appends the next version of a dataset, or fails
	// with an error matching ErrVersionConflict.
	PutDatasetVersion(name string, v *orchestratorv1.DatasetVersion) error
	// DatasetVersion returns one version (0: the latest), or an error
	// matching ErrNotFound.
	DatasetVersion(name string, version int64) (*orchestratorv1.DatasetVersion, error)
	// GetDataset returns a dataset with its versions.
	GetDataset(name string) (*orchestratorv1.Dataset, error)
	// ListDatasets returns every dataset.
	ListDatasets() ([]*orchestratorv1.Dataset, error)
}

// Models is the model registry: numbered versions and aliases.
type Models interface {
	// PutModelVersion registers the next version of a model.
	PutModelVersion(v *orchestratorv1.ModelVersion) (*orchestratorv1.ModelVersion, error)
	// GetModel returns a model with its versions and aliases.
	GetModel(name string) (*orchestratorv1.RegisteredModel, error)
	// ListModels returns every model.
	ListModels() ([]*orchestratorv1.RegisteredModel, error)
	// SetModelAlias points an alias at a version.
	SetModelAlias(name string, a *orchestratorv1.ModelAlias) (*orchestratorv1.ModelAlias, error)
	// DeleteModelVersion removes a version no alias names.
	DeleteModelVersion(name string, version int64) (*orchestratorv1.ModelVersion, error)
}

// Metadata is every record the orchestrator keeps besides artifact
// content: what a replicated key-value store (etcd) can hold.
type Metadata interface {
	Runs
	StepCache
	Datasets
	Models
}

// Artifacts keeps content-addressed artifacts with their lineage
// metadata. Content is named by its sha256 and checked against it on
// every read: a mismatch fails with an error matching ErrCorrupt.
type Artifacts interface {
	// PutArtifact stores content and returns its metadata; an existing
	// artifact keeps its first metadata and is linked to meta's run.
	PutArtifact(meta *orchestratorv1.Artifact, content []byte) (*orchestratorv1.Artifact, error)
	// PutArtifactParts is PutArtifact for content given in consecutive parts.
	PutArtifactParts(meta *orchestratorv1.Artifact, parts [][]byte) (*orchestratorv1.Artifact, error)
	// PutArtifactStream is PutArtifact for content read from r until EOF.
	PutArtifactStream(meta *orchestratorv1.Artifact, r io.Reader) (*orchestratorv1.Artifact, error)
	// StatArtifact returns an artifact's metadata, or an error matching
	// ErrNotFound.
	StatArtifact(digest string) (*orchestratorv1.Artifact, error)
	// StreamArtifact hands the verified content to fn in chunks of at
	// most ChunkSize bytes.
	StreamArtifact(digest string, fn func(chunk []byte) error) error
	// ReadArtifact returns the whole verified content.
	ReadArtifact(digest string) ([]byte, error)
	// ListArtifacts returns the artifacts linked to runID (every artifact
	// when runID is empty), oldest first.
	ListArtifacts(runID string) ([]*orchestratorv1.Artifact, error)
	// LinkArtifact links an existing artifact to a run.
	LinkArtifact(runID, digest string) error
}

// Backend is the whole state the orchestrator's packages use: metadata
// and artifacts. *Store (one bbolt file) is the default implementation;
// package etcdstore keeps metadata in etcd and content in a blob store,
// so several orchestrators can share it.
type Backend interface {
	Metadata
	Artifacts
	// Path names where the state lives (a file path or a URL), for logs.
	Path() string
	// Close releases the backend; it must not be used afterwards.
	Close() error
}

// CacheLister is a Backend that can enumerate its step cache, so a copy
// can carry it over.
type CacheLister interface {
	// CacheEntries calls fn with every entry, in key order.
	CacheEntries(fn func(key string, outputs []string) error) error
}

// Collector is a Backend that sweeps unreferenced content itself.
type Collector interface {
	// StartGC collects now, then every interval until ctx is done.
	StartGC(ctx context.Context, interval time.Duration, report func(removedChunks int, removedBytes int64, err error))
}

// Compile-time check that the bbolt store is a complete Backend.
var (
	_ Backend     = (*Store)(nil)
	_ Collector   = (*Store)(nil)
	_ CacheLister = (*Store)(nil)
)
