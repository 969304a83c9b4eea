package store

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// The functions below let other Backend implementations validate input
// and order records exactly as the bbolt Store does, so both answer the
// same calls with the same results and errors.

// MarshalOptions makes stored protos byte-stable.
var MarshalOptions = marshalOpts

// CheckID validates a run id or cache key (what names it in the error).
func CheckID(what, id string) error { return checkID(what, id) }

// CheckValueSize rejects a value over ChunkSize with ErrTooLarge.
func CheckValueSize(what string, n int) error { return checkValueSize(what, n) }

// ParseDigest decodes a canonical digest; a malformed one yields an error
// matching ErrInvalidDigest and ErrNotFound.
func ParseDigest(s string) ([32]byte, error) { return parseDigest(s) }

// CheckDatasetName validates a dataset name.
func CheckDatasetName(name string) error { return checkDatasetName(name) }

// CheckModelName validates a model or alias name (what names it).
func CheckModelName(what, name string) error { return checkModelName(what, name) }

// PrepareArtifactMeta copies and validates a caller's artifact metadata.
func PrepareArtifactMeta(meta *orchestratorv1.Artifact) (*orchestratorv1.Artifact, error) {
	return prepareArtifactMeta(meta)
}

// TimestampTime converts a proto timestamp, refusing invalid ones.
func TimestampTime(ts *timestamppb.Timestamp) (time.Time, error) { return timestampTime(ts) }

// TimeKey is the 12-byte encoding of t whose byte order is time order.
func TimeKey(t time.Time) [12]byte { return timeKey(t) }

// InvertedTimeKey is TimeKey with every bit flipped: newest first.
func InvertedTimeKey(t time.Time) [12]byte { return invertedTimeKey(t) }

// Unfinished reports whether a run still needs work: pending, running,
// or ended with its report still to store (report_pending).
func Unfinished(run *orchestratorv1.Run) bool { return unfinished(run) }

// FillAliases sets each version's aliases from a model's alias list.
func FillAliases(versions []*orchestratorv1.ModelVersion, aliases []*orchestratorv1.ModelAlias) {
	fillAliases(versions, aliases)
}

// SortRunsOldestFirst orders runs by create time, ties by id, as
// UnfinishedRuns returns them.
func SortRunsOldestFirst(runs []*orchestratorv1.Run) {
	sortRunsOldestFirst(runs)
}
