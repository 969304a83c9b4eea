package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// runPartKey is the key of part i of a run's stored proto.
func runPartKey(id string, i uint32) []byte {
	k := lp(id)
	return binary.BigEndian.AppendUint32(k, i)
}

// getRunRaw reassembles a run's stored proto within tx; ok is false if the
// run does not exist.
func getRunRaw(tx *bolt.Tx, id string) (raw []byte, ok bool, err error) {
	prefix := lp(id)
	c := tx.Bucket(bucketRuns).Cursor()
	var want uint32
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+4 || binary.BigEndian.Uint32(k[len(prefix):]) != want {
			return nil, false, fmt.Errorf("run %q: part key %x out of sequence", id, k)
		}
		raw = append(raw, v...)
		want++
	}
	return raw, want > 0, nil
}

// getRun reads and decodes a run within tx.
func getRun(tx *bolt.Tx, id string) (*orchestratorv1.Run, error) {
	raw, ok, err := getRunRaw(tx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	r := &orchestratorv1.Run{}
	if err := proto.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("run %q: decode: %w", id, err)
	}
	return r, nil
}

// runExists reports whether a run is stored, without decoding it.
func runExists(tx *bolt.Tx, id string) bool {
	return tx.Bucket(bucketRuns).Get(runPartKey(id, 0)) != nil
}

// runTimeKey is a run's runs_by_time key.
func runTimeKey(t time.Time, id string) []byte {
	tk := invertedTimeKey(t)
	return concat(tk[:], []byte(id))
}

// unfinished reports whether a run still needs work: it is pending or
// running, or it ended and its report is still to be stored
// (report_pending), which an orchestrator resuming or taking the run over
// finishes.
func unfinished(run *orchestratorv1.Run) bool {
	switch run.GetState() {
	case orchestratorv1.RunState_RUN_STATE_PENDING, orchestratorv1.RunState_RUN_STATE_RUNNING:
		return true
	}
	return run.GetReportPending()
}

// PutRun inserts a run or replaces the run with the same id, together with
// its time and unfinished indexes. run.id and a valid run.create_time are
// required. A run's proto may exceed 1 MiB; it is then stored in parts.
func (s *Store) PutRun(run *orchestratorv1.Run) error {
	put, err := runPut(run)
	if err != nil {
		return err
	}
	if err := s.db.Update(put); err != nil {
		return fmt.Errorf("put run %q: %w", run.GetId(), err)
	}
	return nil
}

// PutRunEvent stores the run and appends ev to its log in one
// transaction: both or neither, so a crash cannot keep a run's new state
// without the event announcing it (a finished run without its terminal
// event). It returns the event as AppendEvent does.
func (s *Store) PutRunEvent(run *orchestratorv1.Run, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	put, err := runPut(run)
	if err != nil {
		return nil, err
	}
	out, appendTx, err := eventAppend(run.GetId(), ev)
	if err != nil {
		return nil, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := put(tx); err != nil {
			return err
		}
		return appendTx(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("put run %q with event: %w", run.GetId(), err)
	}
	return out, nil
}

// runPut checks and encodes a run, and returns the transaction step that
// stores it with its indexes.
func runPut(run *orchestratorv1.Run) (func(tx *bolt.Tx) error, error) {
	if run == nil {
		return nil, errors.New("put run: nil run")
	}
	id := run.GetId()
	if err := checkID("run id", id); err != nil {
		return nil, fmt.Errorf("put run: %w", err)
	}
	created, err := timestampTime(run.GetCreateTime())
	if err != nil {
		return nil, fmt.Errorf("put run %q: create_time: %w", id, err)
	}
	raw, err := marshalOpts.Marshal(run)
	if err != nil {
		return nil, fmt.Errorf("put run %q: marshal: %w", id, err)
	}
	todo := unfinished(run)
	return func(tx *bolt.Tx) error {
		runs := tx.Bucket(bucketRuns)
		byTime := tx.Bucket(bucketRunsByTime)
		if runExists(tx, id) {
			old, err := getRun(tx, id)
			if err != nil {
				return err
			}
			if t, err := timestampTime(old.GetCreateTime()); err == nil {
				if err := byTime.Delete(runTimeKey(t, id)); err != nil {
					return err
				}
			}
			// Collect first: deleting under a live cursor skips keys.
			prefix := lp(id)
			var stale [][]byte
			c := runs.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				stale = append(stale, bytes.Clone(k))
			}
			for _, k := range stale {
				if err := runs.Delete(k); err != nil {
					return err
				}
			}
		}
		for i := 0; i == 0 || i*ChunkSize < len(raw); i++ {
			part := raw[i*ChunkSize : min((i+1)*ChunkSize, len(raw))]
			if err := runs.Put(runPartKey(id, uint32(i)), part); err != nil {
				return err
			}
		}
		if err := byTime.Put(runTimeKey(created, id), nil); err != nil {
			return err
		}
		if todo {
			return tx.Bucket(bucketRunsUnfinished).Put([]byte(id), nil)
		}
		return tx.Bucket(bucketRunsUnfinished).Delete([]byte(id))
	}, nil
}

// GetRun returns a run, or an error matching ErrNotFound.
func (s *Store) GetRun(id string) (*orchestratorv1.Run, error) {
	if err := checkID("run id", id); err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	var r *orchestratorv1.Run
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		r, err = getRun(tx, id)
		return err
	})
	return r, err
}

// pageTokenVersion tags the page token layout, so a future layout can
// reject old tokens cleanly.
const pageTokenVersion = 1

// maxPageTokenLen bounds the token text decoded: a version byte and the
// longest runs_by_time key, base64 encoded, with room to spare.
const maxPageTokenLen = 2 * (1 + timeKeySize + MaxIDLength)

// encodePageToken makes an opaque token naming the last runs_by_time key
// returned. Resuming after a key, rather than at an offset, keeps pages
// stable while runs are added.
func encodePageToken(lastKey []byte) string {
	return base64.RawURLEncoding.EncodeToString(concat([]byte{pageTokenVersion}, lastKey))
}

// decodePageToken validates a token and returns the key to resume after.
func decodePageToken(tok string) ([]byte, error) {
	if len(tok) > maxPageTokenLen {
		return nil, fmt.Errorf("%w: %d characters, at most %d", ErrBadPageToken, len(tok), maxPageTokenLen)
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadPageToken)
	}
	if len(b) < 1+timeKeySize+1 || b[0] != pageTokenVersion {
		return nil, fmt.Errorf("%w: unknown layout", ErrBadPageToken)
	}
	if idLen := len(b) - 1 - timeKeySize; idLen > MaxIDLength {
		return nil, fmt.Errorf("%w: run id of %d bytes", ErrBadPageToken, idLen)
	}
	return b[1:], nil
}

// ListRuns returns a page of runs, newest first by create_time, ties by
// id, and a token for the next page ("" on the last page). pageSize 0
// means DefaultPageSize; larger than MaxPageSize means MaxPageSize. A
// token this store did not issue yields an error matching ErrBadPageToken.
func (s *Store) ListRuns(pageSize int, pageToken string) (runs []*orchestratorv1.Run, next string, err error) {
	switch {
	case pageSize < 0:
		return nil, "", fmt.Errorf("list runs: page size %d is negative", pageSize)
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	var after []byte
	if pageToken != "" {
		if after, err = decodePageToken(pageToken); err != nil {
			return nil, "", fmt.Errorf("list runs: %w", err)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRunsByTime).Cursor()
		k, _ := c.First()
		if after != nil {
			k, _ = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		var last []byte
		for ; k != nil; k, _ = c.Next() {
			if len(runs) == pageSize {
				next = encodePageToken(last)
				return nil
			}
			if len(k) <= timeKeySize {
				return fmt.Errorf("run index key %x is malformed", k)
			}
			r, err := getRun(tx, string(k[timeKeySize:]))
			if err != nil {
				return err
			}
			runs = append(runs, r)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	return runs, next, nil
}

// UnfinishedRuns returns the runs in state PENDING or RUNNING, and the
// ended runs whose report is pending, oldest first, so a restarted orchestrator resumes them in the order they were
// started.
func (s *Store) UnfinishedRuns() ([]*orchestratorv1.Run, error) {
	var out []*orchestratorv1.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRunsUnfinished).ForEach(func(k, _ []byte) error {
			r, err := getRun(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("unfinished runs: %w", err)
	}
	sortRunsOldestFirst(out)
	return out, nil
}

// sortRunsOldestFirst orders runs by create time, ties by id.
func sortRunsOldestFirst(out []*orchestratorv1.Run) {
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].GetCreateTime().AsTime(), out[j].GetCreateTime().AsTime()
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return out[i].GetId() < out[j].GetId()
	})
}

// AppendEvent appends an event to a stored run's log and returns it with
// its sequence number (from 1, without gaps) and, if unset, its time.
// The caller's event is not modified.
func (s *Store) AppendEvent(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	out, appendTx, err := eventAppend(runID, ev)
	if err != nil {
		return nil, err
	}
	if err := s.db.Update(appendTx); err != nil {
		return nil, fmt.Errorf("append event to run %q: %w", runID, err)
	}
	return out, nil
}

// eventAppend checks an event and returns the copy to store and the
// transaction step that numbers and appends it; the copy has its number
// once the step ran.
func eventAppend(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, func(tx *bolt.Tx) error, error) {
	if err := checkID("run id", runID); err != nil {
		return nil, nil, fmt.Errorf("append event: %w", err)
	}
	if ev == nil {
		return nil, nil, fmt.Errorf("append event to run %q: nil event", runID)
	}
	out := proto.Clone(ev).(*orchestratorv1.RunEvent)
	if out.GetTime() == nil {
		out.Time = timestamppb.Now()
	}
	return out, func(tx *bolt.Tx) error {
		if !runExists(tx, runID) {
			return ErrNotFound
		}
		b, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists([]byte(runID))
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		out.Sequence = int64(seq)
		raw, err := marshalOpts.Marshal(out)
		if err != nil {
			return fmt.Errorf("marshal: %w", err)
		}
		if err := checkValueSize("event", len(raw)); err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), raw)
	}, nil
}

// Events returns a run's events with sequence greater than afterSeq, in
// order; afterSeq 0 returns them all. An unknown run yields an error
// matching ErrNotFound.
func (s *Store) Events(runID string, afterSeq int64) ([]*orchestratorv1.RunEvent, error) {
	if err := checkID("run id", runID); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	afterSeq = max(afterSeq, 0)
	var out []*orchestratorv1.RunEvent
	err := s.db.View(func(tx *bolt.Tx) error {
		if !runExists(tx, runID) {
			return ErrNotFound
		}
		b := tx.Bucket(bucketEvents).Bucket([]byte(runID))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(afterSeq)+1)); k != nil; k, v = c.Next() {
			ev := &orchestratorv1.RunEvent{}
			if err := proto.Unmarshal(v, ev); err != nil {
				return fmt.Errorf("event %x: decode: %w", k, err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of run %q: %w", runID, err)
	}
	return out, nil
}
