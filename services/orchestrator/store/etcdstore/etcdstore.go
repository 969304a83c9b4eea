// Package etcdstore is a store.Backend for several orchestrators at once:
// runs, events, the step cache and the dataset and model registries live
// in etcd under one key prefix, artifact content in a blob.Store (named
// by sha256, checked on every read), artifact metadata and lineage in
// etcd beside the rest.
//
// Every update the bbolt store makes in one transaction is one etcd
// transaction here, built with concurrency.STM: the keys it read must be
// unchanged when it commits, else it runs again. So two replicas racing
// for the next dataset version, event number or model version cannot both
// win.
//
// Key layout under the prefix ("hex(s)" is the lowercase hex of s's bytes,
// which keeps byte order and never contains '/'; "%020d" a zero-padded
// decimal; "tk" the 24-hex-character store.TimeKey):
//
//	run/hex(id)/%06d              part i of the run's proto (etcd values
//	                              stay small; a run's parts change in one
//	                              transaction)
//	runhead/hex(id)               "parts tk": part count and create time
//	runtime/hex(^tk)hex(id)       "1": newest first, ties by id
//	unfinished/hex(id)            "1": runs PENDING or RUNNING, or ended
//	                              with their report pending
//	event/hex(id)/%020d           RunEvent, numbered from 1
//	eventseq/hex(id)              the last event number
//	cache/hex(key)                "1" then ",digest" per output
//	ds/hex(name)/%020d            DatasetVersion, written once
//	dslatest/hex(name)            the latest version number
//	mh/hex(name)                  RegisteredModel head: name, create time,
//	                              latest version ever given, and aliases
//	                              (sorted), so an alias and the version it
//	                              names change in one transaction
//	mv/hex(name)/%020d            ModelVersion, aliases left empty
//	art/digest                    Artifact metadata (first producer wins)
//	arttime/hex(tk)digest         "1": every artifact, oldest first
//	artrun/hex(run)/hex(tk)digest "1": a run's artifacts, oldest first
//	artlink/hex(run)/digest       hex(tk): dedupes the by-run index
//	owner/hex(id)                 the orchestrator executing the run, bound
//	                              to its lease (see Fence)
package etcdstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// DefaultTimeout bounds one store call's round trips to etcd.
const DefaultTimeout = 30 * time.Second

// partSize is the largest run part. etcd refuses requests over its
// --max-request-bytes (1.5 MiB by default); a run of several parts is
// written in one transaction, so servers holding large runs need a
// larger limit (the manifests set 16 MiB).
const partSize = store.ChunkSize

// Store is the etcd and blob backed store.Backend. It is safe for
// concurrent use, by several goroutines and several processes.
type Store struct {
	cli     *clientv3.Client
	own     bool
	prefix  string
	blobs   blob.Store
	timeout time.Duration
	where   string

	// blobRetry is the blob retry window (SetBlobRetryWindow).
	blobRetry time.Duration
	// gcGrace is the age below which orphan blobs are spared
	// (SetBlobGCGrace).
	gcGrace time.Duration

	// owner and lease fence run writes (see Fence); owner "" writes
	// unfenced.
	owner string
	lease clientv3.LeaseID

	mu               sync.Mutex
	lastArtifactTime time.Time
}

// Fence makes this store write runs as owner, holding lease: PutRun of a
// new run claims it (an owner key bound to the lease, in the same
// transaction); PutRun and AppendEvent of a run write only while its
// owner key names owner, compared at commit, else they fail with
// store.ErrNotOwner. When the lease ends (the orchestrator died or lost
// etcd for its TTL) the owner keys vanish and Claim lets another take the
// runs over; the old owner's late writes are refused. Call before use.
func (s *Store) Fence(owner string, lease clientv3.LeaseID) {
	s.owner, s.lease = owner, lease
}

// fenced checks, inside a transaction, that this store owns run id,
// claiming a run that does not exist yet when creating.
func (s *Store) fenced(stm concurrency.STM, id string, creating bool) error {
	if s.owner == "" {
		return nil
	}
	k := s.key("owner", hx(id))
	switch v := stm.Get(k); {
	case v == s.owner:
		return nil
	case v == "" && creating:
		stm.Put(k, s.owner, clientv3.WithLease(s.lease))
		return nil
	case v == "":
		return fmt.Errorf("run %q has no owner (this orchestrator's lease ended): %w", id, store.ErrNotOwner)
	default:
		return fmt.Errorf("run %q is owned by %s: %w", id, v, store.ErrNotOwner)
	}
}

// Claim makes this store the owner of an unfinished run nobody owns and
// returns the run; ok is false when the run is finished, missing, or
// owned already (by another orchestrator, or by this one).
func (s *Store) Claim(id string) (run *orchestratorv1.Run, ok bool, err error) {
	if s.owner == "" {
		return nil, false, errors.New("claim: the store is not fenced")
	}
	k := s.key("owner", hx(id))
	err = s.txn(func(stm concurrency.STM) error {
		ok = false
		if stm.Rev(s.key("unfinished", hx(id))) == 0 {
			return nil
		}
		if stm.Get(k) != "" {
			return nil
		}
		stm.Put(k, s.owner, clientv3.WithLease(s.lease))
		ok = true
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	run, err = s.GetRun(id)
	if err != nil {
		return nil, false, err
	}
	return run, true, nil
}

// Orphans returns the ids of the unfinished runs that nobody owns, oldest
// first, reading keys only (no run records), so every orchestrator can
// look often.
func (s *Store) Orphans() ([]string, error) {
	ubase, obase := s.key("unfinished")+"/", s.OwnerKeys()
	owned, err := s.get(obase, 0, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("orphans: %w", err)
	}
	unf, err := s.get(ubase, owned.Header.Revision, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("orphans: %w", err)
	}
	has := map[string]bool{}
	for _, kv := range owned.Kvs {
		has[strings.TrimPrefix(string(kv.Key), obase)] = true
	}
	type orphan struct{ id, created string }
	var out []orphan
	for _, kv := range unf.Kvs {
		h := strings.TrimPrefix(string(kv.Key), ubase)
		if has[h] {
			continue
		}
		id, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("orphans: key %q is malformed", kv.Key)
		}
		head, err := s.get(s.key("runhead", h), unf.Header.Revision)
		if err != nil {
			return nil, fmt.Errorf("orphans: %w", err)
		}
		created := ""
		if len(head.Kvs) > 0 {
			if _, tk, err := parseRunHead(string(head.Kvs[0].Value)); err == nil {
				created = tk
			}
		}
		out = append(out, orphan{string(id), created})
	}
	// The head holds the inverted create time: larger is older.
	sort.SliceStable(out, func(i, j int) bool { return out[i].created > out[j].created })
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.id
	}
	return ids, nil
}

// Owner returns the orchestrator owning run id, "" when none does.
func (s *Store) Owner(id string) (string, error) {
	resp, err := s.get(s.key("owner", hx(id)), 0)
	if err != nil || len(resp.Kvs) == 0 {
		return "", err
	}
	return string(resp.Kvs[0].Value), nil
}

// RequestCancel records that a client asked to cancel run id, for its
// owner to act on (it watches CancelKeys), now or when it takes the run
// over.
func (s *Store) RequestCancel(id string) error {
	if err := store.CheckID("run id", id); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if _, err := s.cli.Put(ctx, s.key("cancel", hx(id)), "1"); err != nil {
		return fmt.Errorf("request cancel of run %q: %w", id, err)
	}
	return nil
}

// CancelRequested reports whether RequestCancel was called for run id.
func (s *Store) CancelRequested(id string) (bool, error) {
	resp, err := s.get(s.key("cancel", hx(id)), 0, clientv3.WithCountOnly())
	if err != nil {
		return false, err
	}
	return resp.Count > 0, nil
}

// CancelKeys is the key prefix of cancel requests; RunOfCancelKey names
// the run of one.
func (s *Store) CancelKeys() string { return s.key("cancel") + "/" }

// RunOfCancelKey returns the run id a cancel request key names.
func (s *Store) RunOfCancelKey(key string) (string, bool) {
	b, err := hex.DecodeString(strings.TrimPrefix(key, s.CancelKeys()))
	return string(b), err == nil && strings.HasPrefix(key, s.CancelKeys())
}

// RunKeys is the key prefix of one run's events, to watch it from any
// orchestrator: a watch sees each event the owner appends.
func (s *Store) RunKeys(id string) string { return s.key("event", hx(id)) + "/" }

// OwnerKeys is the key prefix of the owner keys, to watch for runs whose
// owner went away.
func (s *Store) OwnerKeys() string { return s.key("owner") + "/" }

var (
	_ store.Backend     = (*Store)(nil)
	_ store.CacheLister = (*Store)(nil)
)

// New returns a store on an etcd client, keeping its keys under prefix
// (a trailing "/" is added when missing) and artifact content in blobs.
// Close does not close cli.
func New(cli *clientv3.Client, prefix string, blobs blob.Store) *Store {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Store{cli: cli, prefix: prefix, blobs: blobs, timeout: DefaultTimeout, blobRetry: DefaultBlobRetryWindow, gcGrace: DefaultBlobGCGrace,
		where: fmt.Sprintf("etcd%v%s", cli.Endpoints(), prefix)}
}

// Open connects to the etcd cluster a URL names,
// etcd://host:port[,host:port...]/prefix (prefix defaults to "/alur"), or
// a member on a unix socket, etcd+unix:///path/to/socket?prefix=/alur,
// and keeps artifact content in blobs.
func Open(rawURL string, blobs blob.Store) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("etcd store %q: %w", rawURL, err)
	}
	var eps []string
	prefix := u.Path
	switch {
	case u.Scheme == "etcd" && u.Host != "":
		for _, h := range strings.Split(u.Host, ",") {
			eps = append(eps, "http://"+h)
		}
	case u.Scheme == "etcd+unix" && u.Host == "" && u.Path != "":
		eps = []string{"unix://" + u.Path}
		prefix = u.Query().Get("prefix")
	default:
		return nil, fmt.Errorf("etcd store %q: want etcd://host:port[,host:port]/prefix or etcd+unix:///socket?prefix=/p", rawURL)
	}
	if prefix == "" || prefix == "/" {
		prefix = "/alur"
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("etcd store %q: %w", rawURL, err)
	}
	s := New(cli, prefix, blobs)
	s.own = true
	s.where = rawURL
	return s, nil
}

// Client is the etcd client, for run ownership (package lease).
func (s *Store) Client() *clientv3.Client { return s.cli }

// Prefix is the key prefix, ending in "/".
func (s *Store) Prefix() string { return s.prefix }

// Path names the cluster and prefix.
func (s *Store) Path() string { return s.where }

// Close closes the etcd client if Open made it.
func (s *Store) Close() error {
	if s.own {
		return s.cli.Close()
	}
	return nil
}

func hx(s string) string { return hex.EncodeToString([]byte(s)) }

func num(n int64) string { return fmt.Sprintf("%020d", n) }

func (s *Store) key(parts ...string) string { return s.prefix + strings.Join(parts, "/") }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// txn runs fn as one serializable etcd transaction, again when a key it
// read changed before it committed. fn's own error aborts it and is
// returned as is.
//
// A transaction that fails because etcd is briefly unreachable (a member
// restarting, a leader election: Unavailable) is tried again until the
// store's timeout: the client retries reads by itself but not writes. Each
// attempt reruns fn against fresh reads, so a write that did commit before
// its answer was lost is seen by the next attempt (artifacts, runs and
// registry entries are keyed, so writing them again changes nothing).
func (s *Store) txn(fn func(stm concurrency.STM) error) error {
	ctx, cancel := s.ctx()
	defer cancel()
	for {
		_, err := concurrency.NewSTM(s.cli, fn, concurrency.WithAbortContext(ctx))
		if err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(txnRetryDelay):
		}
	}
}

// txnRetryDelay is the pause between two attempts of a transaction that
// met an unreachable etcd.
const txnRetryDelay = 200 * time.Millisecond

// transient reports whether err says etcd could not be reached or had no
// leader for a moment, so the same transaction may succeed soon.
func transient(err error) bool {
	if status.Code(err) == codes.Unavailable {
		return true
	}
	for _, e := range []error{rpctypes.ErrNoLeader, rpctypes.ErrLeaderChanged, rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// get reads a range (prefix when end is "" and prefix is true) at rev (0:
// the latest).
func (s *Store) get(key string, rev int64, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	return s.cli.Get(ctx, key, opts...)
}

func decode[M proto.Message](raw []byte, m M, what string) (M, error) {
	if err := proto.Unmarshal(raw, m); err != nil {
		return m, fmt.Errorf("%s: decode: %w", what, err)
	}
	return m, nil
}

// ---- runs ----

func (s *Store) runPartKey(id string, i int) string {
	return s.key("run", hx(id), fmt.Sprintf("%06d", i))
}

// PutRun inserts or replaces a run and its indexes in one transaction.
func (s *Store) PutRun(run *orchestratorv1.Run) error {
	put, err := s.runPut(run)
	if err != nil {
		return err
	}
	if err := s.txn(put); err != nil {
		return fmt.Errorf("put run %q: %w", run.GetId(), err)
	}
	return nil
}

// PutRunEvent stores the run and appends ev to its log in one
// transaction (fenced like each alone): both or neither, so an owner
// killed between them cannot leave a run's new state without the event
// announcing it, and a watcher never sees a finished run before its
// terminal event.
func (s *Store) PutRunEvent(run *orchestratorv1.Run, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	put, err := s.runPut(run)
	if err != nil {
		return nil, err
	}
	out, appendEv, err := s.eventAppend(run.GetId(), ev)
	if err != nil {
		return nil, err
	}
	err = s.txn(func(stm concurrency.STM) error {
		if err := put(stm); err != nil {
			return err
		}
		return appendEv(stm)
	})
	if err != nil {
		return nil, fmt.Errorf("put run %q with event: %w", run.GetId(), err)
	}
	return out, nil
}

// runPut checks and encodes a run, and returns the transaction step that
// stores it with its indexes.
func (s *Store) runPut(run *orchestratorv1.Run) (func(stm concurrency.STM) error, error) {
	if run == nil {
		return nil, errors.New("put run: nil run")
	}
	id := run.GetId()
	if err := store.CheckID("run id", id); err != nil {
		return nil, fmt.Errorf("put run: %w", err)
	}
	created, err := store.TimestampTime(run.GetCreateTime())
	if err != nil {
		return nil, fmt.Errorf("put run %q: create_time: %w", id, err)
	}
	raw, err := store.MarshalOptions.Marshal(run)
	if err != nil {
		return nil, fmt.Errorf("put run %q: marshal: %w", id, err)
	}
	var parts []string
	for i := 0; i == 0 || i*partSize < len(raw); i++ {
		parts = append(parts, string(raw[i*partSize:min((i+1)*partSize, len(raw))]))
	}
	tk := store.InvertedTimeKey(created)
	timeKey := s.key("runtime", hex.EncodeToString(tk[:])+hx(id))
	head := s.key("runhead", hx(id))
	todo := store.Unfinished(run)
	return func(stm concurrency.STM) error {
		old := stm.Get(head)
		if err := s.fenced(stm, id, old == ""); err != nil {
			return err
		}
		if old != "" {
			n, oldTime, err := parseRunHead(old)
			if err != nil {
				return err
			}
			for i := len(parts); i < n; i++ {
				stm.Del(s.runPartKey(id, i))
			}
			stm.Del(s.key("runtime", oldTime+hx(id)))
		}
		for i, p := range parts {
			stm.Put(s.runPartKey(id, i), p)
		}
		stm.Put(timeKey, "1")
		stm.Put(head, fmt.Sprintf("%d %s", len(parts), hex.EncodeToString(tk[:])))
		if todo {
			stm.Put(s.key("unfinished", hx(id)), "1")
		} else {
			stm.Del(s.key("unfinished", hx(id)))
		}
		return nil
	}, nil
}

func parseRunHead(v string) (parts int, timeHex string, err error) {
	n, t, ok := strings.Cut(v, " ")
	parts, perr := strconv.Atoi(n)
	if !ok || perr != nil || parts < 1 {
		return 0, "", fmt.Errorf("run head %q is malformed", v)
	}
	return parts, t, nil
}

// getRunAt reads a run at rev (0: latest).
func (s *Store) getRunAt(id string, rev int64) (*orchestratorv1.Run, error) {
	resp, err := s.get(s.key("run", hx(id))+"/", rev, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("run %q: %w", id, store.ErrNotFound)
	}
	var raw []byte
	for _, kv := range resp.Kvs {
		raw = append(raw, kv.Value...)
	}
	return decode(raw, &orchestratorv1.Run{}, fmt.Sprintf("run %q", id))
}

// GetRun returns a run, or an error matching store.ErrNotFound.
func (s *Store) GetRun(id string) (*orchestratorv1.Run, error) {
	if err := store.CheckID("run id", id); err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	return s.getRunAt(id, 0)
}

const pageTokenVersion = 1

// ListRuns returns a page of runs, newest first, read at one revision.
func (s *Store) ListRuns(pageSize int, pageToken string) ([]*orchestratorv1.Run, string, error) {
	switch {
	case pageSize < 0:
		return nil, "", fmt.Errorf("list runs: page size %d is negative", pageSize)
	case pageSize == 0:
		pageSize = store.DefaultPageSize
	case pageSize > store.MaxPageSize:
		pageSize = store.MaxPageSize
	}
	base := s.key("runtime") + "/"
	start := base
	if pageToken != "" {
		after, err := decodePageToken(pageToken)
		if err != nil {
			return nil, "", fmt.Errorf("list runs: %w", err)
		}
		start = base + after + "\x00"
	}
	resp, err := s.get(start, 0, clientv3.WithRange(clientv3.GetPrefixRangeEnd(base)), clientv3.WithLimit(int64(pageSize+1)))
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	var runs []*orchestratorv1.Run
	var next string
	for i, kv := range resp.Kvs {
		suffix := strings.TrimPrefix(string(kv.Key), base)
		if i == pageSize {
			next = encodePageToken(strings.TrimPrefix(string(resp.Kvs[i-1].Key), base))
			break
		}
		idHex := suffix[min(len(suffix), 2*12):]
		id, err := hex.DecodeString(idHex)
		if err != nil || len(suffix) <= 2*12 {
			return nil, "", fmt.Errorf("list runs: index key %q is malformed", kv.Key)
		}
		r, err := s.getRunAt(string(id), resp.Header.Revision)
		if err != nil {
			return nil, "", fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	return runs, next, nil
}

func encodePageToken(after string) string {
	raw, _ := hex.DecodeString(after)
	return base64.RawURLEncoding.EncodeToString(append([]byte{pageTokenVersion}, raw...))
}

func decodePageToken(tok string) (string, error) {
	if len(tok) > 2*(1+12+store.MaxIDLength) {
		return "", fmt.Errorf("%w: %d characters", store.ErrBadPageToken, len(tok))
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", fmt.Errorf("%w: not base64url", store.ErrBadPageToken)
	}
	if len(b) < 1+12+1 || b[0] != pageTokenVersion {
		return "", fmt.Errorf("%w: unknown layout", store.ErrBadPageToken)
	}
	if len(b)-1-12 > store.MaxIDLength {
		return "", fmt.Errorf("%w: run id of %d bytes", store.ErrBadPageToken, len(b)-1-12)
	}
	return hex.EncodeToString(b[1:]), nil
}

// UnfinishedRuns returns the runs PENDING or RUNNING, or ended with their
// report pending, oldest first.
func (s *Store) UnfinishedRuns() ([]*orchestratorv1.Run, error) {
	base := s.key("unfinished") + "/"
	resp, err := s.get(base, 0, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("unfinished runs: %w", err)
	}
	var out []*orchestratorv1.Run
	for _, kv := range resp.Kvs {
		id, err := hex.DecodeString(strings.TrimPrefix(string(kv.Key), base))
		if err != nil {
			return nil, fmt.Errorf("unfinished runs: key %q is malformed", kv.Key)
		}
		r, err := s.getRunAt(string(id), resp.Header.Revision)
		if err != nil {
			return nil, fmt.Errorf("unfinished runs: %w", err)
		}
		out = append(out, r)
	}
	store.SortRunsOldestFirst(out)
	return out, nil
}

// AppendEvent numbers an event and appends it, in one transaction.
func (s *Store) AppendEvent(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	out, appendEv, err := s.eventAppend(runID, ev)
	if err != nil {
		return nil, err
	}
	if err := s.txn(appendEv); err != nil {
		return nil, fmt.Errorf("append event to run %q: %w", runID, err)
	}
	return out, nil
}

// eventAppend checks an event and returns the copy to store and the
// transaction step that numbers and appends it; the copy has its number
// once the step committed.
func (s *Store) eventAppend(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, func(stm concurrency.STM) error, error) {
	if err := store.CheckID("run id", runID); err != nil {
		return nil, nil, fmt.Errorf("append event: %w", err)
	}
	if ev == nil {
		return nil, nil, fmt.Errorf("append event to run %q: nil event", runID)
	}
	out := proto.CloneOf(ev)
	if out.GetTime() == nil {
		out.Time = timestamppb.Now()
	}
	seqKey := s.key("eventseq", hx(runID))
	return out, func(stm concurrency.STM) error {
		// Get, unlike Rev, sees a run put earlier in the same transaction.
		if stm.Get(s.key("runhead", hx(runID))) == "" {
			return store.ErrNotFound
		}
		if err := s.fenced(stm, runID, false); err != nil {
			return err
		}
		var seq int64
		if v := stm.Get(seqKey); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("event sequence %q is malformed", v)
			}
			seq = n
		}
		seq++
		out.Sequence = seq
		raw, err := store.MarshalOptions.Marshal(out)
		if err != nil {
			return fmt.Errorf("marshal: %w", err)
		}
		if err := store.CheckValueSize("event", len(raw)); err != nil {
			return err
		}
		stm.Put(s.key("event", hx(runID), num(seq)), string(raw))
		stm.Put(seqKey, strconv.FormatInt(seq, 10))
		return nil
	}, nil
}

// Events returns a run's events numbered after afterSeq.
func (s *Store) Events(runID string, afterSeq int64) ([]*orchestratorv1.RunEvent, error) {
	if err := store.CheckID("run id", runID); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	afterSeq = max(afterSeq, 0)
	head, err := s.get(s.key("runhead", hx(runID)), 0, clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("events of run %q: %w", runID, err)
	}
	if head.Count == 0 {
		return nil, fmt.Errorf("events of run %q: %w", runID, store.ErrNotFound)
	}
	base := s.key("event", hx(runID)) + "/"
	resp, err := s.get(base+num(afterSeq+1), head.Header.Revision, clientv3.WithRange(clientv3.GetPrefixRangeEnd(base)))
	if err != nil {
		return nil, fmt.Errorf("events of run %q: %w", runID, err)
	}
	out := make([]*orchestratorv1.RunEvent, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ev, err := decode(kv.Value, &orchestratorv1.RunEvent{}, fmt.Sprintf("event %s", kv.Key))
		if err != nil {
			return nil, fmt.Errorf("events of run %q: %w", runID, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// artifactsExist checks that every digest names a stored artifact, else
// the error matches store.ErrNotFound. It reads outside the transaction
// that follows: artifacts are never removed from an etcd store, so one
// seen stays, and a transaction holding a compare per digest would pass
// etcd's limit on operations per transaction (--max-txn-ops, 128) for a
// dataset of many batches.
func (s *Store) artifactsExist(digests []string, what string) error {
	seen := map[string]bool{}
	for _, d := range digests {
		if seen[d] {
			continue
		}
		seen[d] = true
		resp, err := s.get(s.key("art", d), 0, clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		if resp.Count == 0 {
			return fmt.Errorf("%s %s: %w", what, d, store.ErrNotFound)
		}
	}
	return nil
}

// ---- step cache ----

// CachePut records a step's outputs, each of which must be stored.
func (s *Store) CachePut(key string, outputs []string) error {
	if err := store.CheckID("cache key", key); err != nil {
		return fmt.Errorf("cache put: %w", err)
	}
	v := "1"
	for i, o := range outputs {
		if _, err := store.ParseDigest(o); err != nil {
			return fmt.Errorf("cache put: outputs[%d]: %w", i, err)
		}
		v += "," + o
	}
	if err := store.CheckValueSize("cache entry", len(v)); err != nil {
		return fmt.Errorf("cache put: %w", err)
	}
	if err := s.artifactsExist(outputs, "output"); err != nil {
		return fmt.Errorf("cache put %s: %w", key, err)
	}
	err := s.txn(func(stm concurrency.STM) error {
		stm.Put(s.key("cache", hx(key)), v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache put %s: %w", key, err)
	}
	return nil
}

// CacheGet returns a step's outputs; ok is false when there is no entry or
// an output no longer exists.
func (s *Store) CacheGet(key string) ([]string, bool, error) {
	if err := store.CheckID("cache key", key); err != nil {
		return nil, false, fmt.Errorf("cache get: %w", err)
	}
	resp, err := s.get(s.key("cache", hx(key)), 0)
	if err != nil {
		return nil, false, fmt.Errorf("cache get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	fields := strings.Split(string(resp.Kvs[0].Value), ",")
	if fields[0] != "1" {
		return nil, false, fmt.Errorf("cache get %s: entry is malformed", key)
	}
	outs := make([]string, 0, len(fields)-1)
	for _, d := range fields[1:] {
		a, err := s.get(s.key("art", d), resp.Header.Revision, clientv3.WithCountOnly())
		if err != nil {
			return nil, false, fmt.Errorf("cache get %s: %w", key, err)
		}
		if a.Count == 0 {
			return nil, false, nil
		}
		outs = append(outs, d)
	}
	return outs, true, nil
}

// CacheEntries calls fn with every step cache entry, in key order.
func (s *Store) CacheEntries(fn func(key string, outputs []string) error) error {
	base := s.key("cache") + "/"
	resp, err := s.get(base, 0, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("cache entries: %w", err)
	}
	for _, kv := range resp.Kvs {
		k, err := hex.DecodeString(strings.TrimPrefix(string(kv.Key), base))
		fields := strings.Split(string(kv.Value), ",")
		if err != nil || fields[0] != "1" {
			return fmt.Errorf("cache entry %q is malformed", kv.Key)
		}
		if err := fn(string(k), fields[1:]); err != nil {
			return err
		}
	}
	return nil
}

// ---- datasets ----

// PutDatasetVersion appends the next version of a dataset.
func (s *Store) PutDatasetVersion(name string, v *orchestratorv1.DatasetVersion) error {
	if err := store.CheckDatasetName(name); err != nil {
		return fmt.Errorf("put dataset version: %w", err)
	}
	if v == nil || v.GetVersion() < 1 {
		return fmt.Errorf("put dataset %q version: version must be 1 or more", name)
	}
	if _, err := store.TimestampTime(v.GetCreateTime()); err != nil {
		return fmt.Errorf("put dataset %q version %d: create_time: %w", name, v.GetVersion(), err)
	}
	digests := append([]string{v.GetArtifactDigest()}, v.GetBatchDigests()...)
	for _, d := range digests {
		if _, err := store.ParseDigest(d); err != nil {
			return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
		}
	}
	raw, err := store.MarshalOptions.Marshal(v)
	if err != nil {
		return fmt.Errorf("put dataset %q version %d: marshal: %w", name, v.GetVersion(), err)
	}
	if err := store.CheckValueSize("dataset version", len(raw)); err != nil {
		return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
	}
	if err := s.artifactsExist(digests, "artifact"); err != nil {
		return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
	}
	latestKey := s.key("dslatest", hx(name))
	err = s.txn(func(stm concurrency.STM) error {
		latest, err := parseNum(stm.Get(latestKey))
		if err != nil {
			return err
		}
		if v.GetVersion() != latest+1 {
			return fmt.Errorf("version %d, but the latest is %d: %w", v.GetVersion(), latest, store.ErrVersionConflict)
		}
		stm.Put(s.key("ds", hx(name), num(v.GetVersion())), string(raw))
		stm.Put(latestKey, strconv.FormatInt(v.GetVersion(), 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
	}
	return nil
}

// parseNum reads a decimal counter; "" is 0.
func parseNum(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter %q is malformed", v)
	}
	return n, nil
}

// DatasetVersion returns one version of a dataset (0: the latest).
func (s *Store) DatasetVersion(name string, version int64) (*orchestratorv1.DatasetVersion, error) {
	if err := store.CheckDatasetName(name); err != nil {
		return nil, fmt.Errorf("get dataset version: %w", err)
	}
	if version < 0 {
		return nil, fmt.Errorf("dataset %q version %d: %w", name, version, store.ErrNotFound)
	}
	lr, err := s.get(s.key("dslatest", hx(name)), 0)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	var latest int64
	if len(lr.Kvs) > 0 {
		if latest, err = parseNum(string(lr.Kvs[0].Value)); err != nil {
			return nil, fmt.Errorf("dataset %q: %w", name, err)
		}
	}
	if latest == 0 {
		return nil, fmt.Errorf("dataset %q: %w", name, store.ErrNotFound)
	}
	n := version
	if n == 0 {
		n = latest
	}
	resp, err := s.get(s.key("ds", hx(name), num(n)), lr.Header.Revision)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("dataset %q version %d: %w", name, n, store.ErrNotFound)
	}
	return decode(resp.Kvs[0].Value, &orchestratorv1.DatasetVersion{}, fmt.Sprintf("dataset %q version", name))
}

// GetDataset returns a dataset with every version, newest first.
func (s *Store) GetDataset(name string) (*orchestratorv1.Dataset, error) {
	if err := store.CheckDatasetName(name); err != nil {
		return nil, fmt.Errorf("get dataset: %w", err)
	}
	resp, err := s.get(s.key("ds", hx(name))+"/", 0, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("dataset %q: %w", name, store.ErrNotFound)
	}
	d := &orchestratorv1.Dataset{Name: name}
	for _, kv := range resp.Kvs {
		v, err := decode(kv.Value, &orchestratorv1.DatasetVersion{}, fmt.Sprintf("dataset %q version", name))
		if err != nil {
			return nil, err
		}
		d.Versions = append(d.Versions, v)
	}
	d.CreateTime = d.Versions[len(d.Versions)-1].GetCreateTime()
	d.LatestVersion = d.Versions[0].GetVersion()
	return d, nil
}

// ListDatasets returns every dataset by name, each with its latest version.
func (s *Store) ListDatasets() ([]*orchestratorv1.Dataset, error) {
	base := s.key("dslatest") + "/"
	resp, err := s.get(base, 0, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	var out []*orchestratorv1.Dataset
	for _, kv := range resp.Kvs {
		nb, err := hex.DecodeString(strings.TrimPrefix(string(kv.Key), base))
		if err != nil {
			return nil, fmt.Errorf("list datasets: key %q is malformed", kv.Key)
		}
		name := string(nb)
		vbase := s.key("ds", hx(name)) + "/"
		first, err := s.get(vbase, resp.Header.Revision, clientv3.WithPrefix(), clientv3.WithLimit(1))
		if err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		last, err := s.get(vbase, resp.Header.Revision, clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		if err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		if len(first.Kvs) == 0 || len(last.Kvs) == 0 {
			continue
		}
		f, err := decode(first.Kvs[0].Value, &orchestratorv1.DatasetVersion{}, fmt.Sprintf("dataset %q version", name))
		if err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		l, err := decode(last.Kvs[0].Value, &orchestratorv1.DatasetVersion{}, fmt.Sprintf("dataset %q version", name))
		if err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		out = append(out, &orchestratorv1.Dataset{Name: name, CreateTime: f.GetCreateTime(), LatestVersion: l.GetVersion(), Versions: []*orchestratorv1.DatasetVersion{l}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// ---- model registry ----

func (s *Store) headOf(stm concurrency.STM, name string) (*orchestratorv1.RegisteredModel, error) {
	raw := stm.Get(s.key("mh", hx(name)))
	if raw == "" {
		return nil, fmt.Errorf("model %q: %w", name, store.ErrNotFound)
	}
	return decode([]byte(raw), &orchestratorv1.RegisteredModel{}, fmt.Sprintf("model %q", name))
}

func (s *Store) putHead(stm concurrency.STM, h *orchestratorv1.RegisteredModel) error {
	raw, err := store.MarshalOptions.Marshal(h)
	if err != nil {
		return err
	}
	if err := store.CheckValueSize("model head", len(raw)); err != nil {
		return err
	}
	stm.Put(s.key("mh", hx(h.GetName())), string(raw))
	return nil
}

// PutModelVersion registers the next version of a model.
func (s *Store) PutModelVersion(v *orchestratorv1.ModelVersion) (*orchestratorv1.ModelVersion, error) {
	if v == nil {
		return nil, errors.New("put model version: nil version")
	}
	name := v.GetName()
	if err := store.CheckModelName("model name", name); err != nil {
		return nil, fmt.Errorf("put model version: %w", err)
	}
	if _, err := store.TimestampTime(v.GetCreateTime()); err != nil {
		return nil, fmt.Errorf("put model %q version: create_time: %w", name, err)
	}
	digests := []string{v.GetModelDigest(), v.GetTransformDigest()}
	for _, d := range digests {
		if _, err := store.ParseDigest(d); err != nil {
			return nil, fmt.Errorf("put model %q version: %w", name, err)
		}
	}
	if err := s.artifactsExist(digests, "artifact"); err != nil {
		return nil, fmt.Errorf("put model %q version: %w", name, err)
	}
	var out *orchestratorv1.ModelVersion
	err := s.txn(func(stm concurrency.STM) error {
		out = proto.CloneOf(v)
		out.Aliases = nil
		head, err := s.headOf(stm, name)
		if errors.Is(err, store.ErrNotFound) {
			head, err = &orchestratorv1.RegisteredModel{Name: name, CreateTime: v.GetCreateTime()}, nil
		}
		if err != nil {
			return err
		}
		head.LatestVersion++
		out.Version = head.GetLatestVersion()
		raw, err := store.MarshalOptions.Marshal(out)
		if err != nil {
			return err
		}
		if err := store.CheckValueSize("model version", len(raw)); err != nil {
			return err
		}
		stm.Put(s.key("mv", hx(name), num(out.GetVersion())), string(raw))
		return s.putHead(stm, head)
	})
	if err != nil {
		return nil, fmt.Errorf("put model %q version: %w", name, err)
	}
	return out, nil
}

// modelAt assembles a model's head, versions (newest first, all or the
// latest only) and aliases at one revision.
func (s *Store) modelAt(rawHead []byte, rev int64, all bool) (*orchestratorv1.RegisteredModel, error) {
	m, err := decode(rawHead, &orchestratorv1.RegisteredModel{}, "model head")
	if err != nil {
		return nil, err
	}
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
	if !all {
		opts = append(opts, clientv3.WithLimit(1))
	}
	resp, err := s.get(s.key("mv", hx(m.GetName()))+"/", rev, opts...)
	if err != nil {
		return nil, err
	}
	for _, kv := range resp.Kvs {
		v, err := decode(kv.Value, &orchestratorv1.ModelVersion{}, fmt.Sprintf("model %q version", m.GetName()))
		if err != nil {
			return nil, err
		}
		m.Versions = append(m.Versions, v)
	}
	store.FillAliases(m.Versions, m.Aliases)
	return m, nil
}

// GetModel returns a model with every version, newest first, and aliases.
func (s *Store) GetModel(name string) (*orchestratorv1.RegisteredModel, error) {
	if err := store.CheckModelName("model name", name); err != nil {
		return nil, fmt.Errorf("get model: %w", err)
	}
	resp, err := s.get(s.key("mh", hx(name)), 0)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("model %q: %w", name, store.ErrNotFound)
	}
	m, err := s.modelAt(resp.Kvs[0].Value, resp.Header.Revision, true)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	return m, nil
}

// ListModels returns every model by name with its newest version.
func (s *Store) ListModels() ([]*orchestratorv1.RegisteredModel, error) {
	resp, err := s.get(s.key("mh")+"/", 0, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	var out []*orchestratorv1.RegisteredModel
	for _, kv := range resp.Kvs {
		m, err := s.modelAt(kv.Value, resp.Header.Revision, false)
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// SetModelAlias points an alias at a version (0 removes it).
func (s *Store) SetModelAlias(name string, a *orchestratorv1.ModelAlias) (*orchestratorv1.ModelAlias, error) {
	if err := store.CheckModelName("model name", name); err != nil {
		return nil, fmt.Errorf("set model alias: %w", err)
	}
	if a == nil {
		return nil, errors.New("set model alias: nil alias")
	}
	if err := store.CheckModelName("alias", a.GetAlias()); err != nil {
		return nil, fmt.Errorf("set model %q alias: %w", name, err)
	}
	if a.GetVersion() < 0 {
		return nil, fmt.Errorf("set model %q alias %q: version %d: %w", name, a.GetAlias(), a.GetVersion(), store.ErrNotFound)
	}
	var out *orchestratorv1.ModelAlias
	err := s.txn(func(stm concurrency.STM) error {
		out = nil
		head, err := s.headOf(stm, name)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(head.Aliases, func(x *orchestratorv1.ModelAlias) bool { return x.GetAlias() == a.GetAlias() })
		var prev int64
		if i >= 0 {
			prev = head.Aliases[i].GetVersion()
		}
		if a.GetVersion() == 0 {
			if prev == 0 {
				return fmt.Errorf("alias %q: %w", a.GetAlias(), store.ErrNotFound)
			}
			head.Aliases = slices.Delete(head.Aliases, i, i+1)
			return s.putHead(stm, head)
		}
		if stm.Rev(s.key("mv", hx(name), num(a.GetVersion()))) == 0 {
			return fmt.Errorf("model %q version %d: %w", name, a.GetVersion(), store.ErrNotFound)
		}
		out = proto.CloneOf(a)
		out.PreviousVersion = prev
		out.UpdateTime = timestamppb.New(time.Now().UTC())
		raw, err := store.MarshalOptions.Marshal(out)
		if err != nil {
			return err
		}
		if err := store.CheckValueSize("model alias", len(raw)); err != nil {
			return err
		}
		if i >= 0 {
			head.Aliases[i] = out
		} else {
			head.Aliases = append(head.Aliases, out)
			sort.Slice(head.Aliases, func(x, y int) bool { return head.Aliases[x].GetAlias() < head.Aliases[y].GetAlias() })
		}
		return s.putHead(stm, head)
	})
	if err != nil {
		return nil, fmt.Errorf("set model %q alias %q: %w", name, a.GetAlias(), err)
	}
	return out, nil
}

// DeleteModelVersion removes a version no alias points at.
func (s *Store) DeleteModelVersion(name string, version int64) (*orchestratorv1.ModelVersion, error) {
	if err := store.CheckModelName("model name", name); err != nil {
		return nil, fmt.Errorf("delete model version: %w", err)
	}
	var out *orchestratorv1.ModelVersion
	err := s.txn(func(stm concurrency.STM) error {
		head, err := s.headOf(stm, name)
		if err != nil {
			return err
		}
		key := s.key("mv", hx(name), num(version))
		raw := stm.Get(key)
		if raw == "" {
			return fmt.Errorf("model %q version %d: %w", name, version, store.ErrNotFound)
		}
		if out, err = decode([]byte(raw), &orchestratorv1.ModelVersion{}, fmt.Sprintf("model %q version %d", name, version)); err != nil {
			return err
		}
		for _, a := range head.GetAliases() {
			if a.GetVersion() == version {
				return fmt.Errorf("alias %q: %w", a.GetAlias(), store.ErrAliasInUse)
			}
		}
		stm.Del(key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete model %q version %d: %w", name, version, err)
	}
	return out, nil
}

// ---- artifacts ----

// DefaultBlobRetryWindow is how long a failed blob operation is retried:
// a blob store that is briefly away (a volume remounting, an object store
// restarting) pauses the runs rather than failing them.
const DefaultBlobRetryWindow = 2 * time.Minute

// SetBlobRetryWindow changes how long failed blob operations are retried
// (0: not at all). Call before use.
func (s *Store) SetBlobRetryWindow(d time.Duration) { s.blobRetry = d }

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }

// retryBlob runs op until it succeeds, fails for good (content missing or
// too large, damaged, or a permanent error), or the retry window passes,
// backing off from 50 ms to 2 s. An op that is not replayable runs once.
// A blob store still unavailable at the end fails with an error matching
// store.ErrUnavailable too, so the engine pauses the run and retries.
func (s *Store) retryBlob(replayable bool, op func() error) error {
	deadline := time.Now().Add(s.blobRetry)
	wait := 50 * time.Millisecond
	for {
		err := op()
		var p permanent
		if err == nil || !replayable || errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrTooLarge) ||
			errors.Is(err, blob.ErrCorrupt) || errors.As(err, &p) || !time.Now().Add(wait).Before(deadline) {
			if errors.Is(err, blob.ErrUnavailable) && !errors.Is(err, store.ErrUnavailable) {
				err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
			}
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// nextArtifactTime is strictly increasing within this process.
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

// link adds runID's by-run index entries for digest unless present.
func (s *Store) link(stm concurrency.STM, runID, digest string) {
	lk := s.key("artlink", hx(runID), digest)
	if stm.Rev(lk) != 0 {
		return
	}
	tk := store.TimeKey(s.nextArtifactTime())
	th := hex.EncodeToString(tk[:])
	stm.Put(lk, th)
	stm.Put(s.key("artrun", hx(runID), th+digest), "1")
}

// PutArtifact stores content and its metadata.
func (s *Store) PutArtifact(meta *orchestratorv1.Artifact, content []byte) (*orchestratorv1.Artifact, error) {
	if int64(len(content)) > store.MaxArtifactSize {
		return nil, fmt.Errorf("artifact of %d bytes exceeds %d bytes: %w", len(content), store.MaxArtifactSize, store.ErrTooLarge)
	}
	return s.put(meta, func() io.Reader { return bytes.NewReader(content) }, true)
}

// PutArtifactParts stores the concatenated parts as one blob.
func (s *Store) PutArtifactParts(meta *orchestratorv1.Artifact, parts [][]byte) (*orchestratorv1.Artifact, error) {
	var total int64
	for _, p := range parts {
		total += int64(len(p))
	}
	if total > store.MaxArtifactSize {
		return nil, fmt.Errorf("artifact of %d bytes exceeds %d bytes: %w", total, store.MaxArtifactSize, store.ErrTooLarge)
	}
	return s.put(meta, func() io.Reader {
		rs := make([]io.Reader, len(parts))
		for i, p := range parts {
			rs[i] = bytes.NewReader(p)
		}
		return io.MultiReader(rs...)
	}, true)
}

// PutArtifactStream stores what r yields until EOF.
func (s *Store) PutArtifactStream(meta *orchestratorv1.Artifact, r io.Reader) (*orchestratorv1.Artifact, error) {
	if r == nil {
		return nil, errors.New("put artifact: nil reader")
	}
	return s.put(meta, func() io.Reader { return r }, false)
}

// put writes the content to the blob store first, then the metadata and
// indexes in one transaction: metadata never names missing content.
// Content whose metadata never commits is an orphan blob. content returns
// the content, afresh for each attempt when replayable (a failed blob
// write is then retried, see SetBlobRetryWindow).
func (s *Store) put(meta *orchestratorv1.Artifact, content func() io.Reader, replayable bool) (*orchestratorv1.Artifact, error) {
	m, err := store.PrepareArtifactMeta(meta)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var digest string
	var size int64
	err = s.retryBlob(replayable, func() (err error) {
		digest, size, err = s.blobs.Write(ctx, content(), store.MaxArtifactSize)
		return err
	})
	if errors.Is(err, blob.ErrTooLarge) {
		return nil, fmt.Errorf("put artifact: content exceeds %d bytes: %w", store.MaxArtifactSize, store.ErrTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("put artifact: %w", err)
	}
	if m.GetDigest() != "" && m.GetDigest() != digest {
		return nil, fmt.Errorf("put artifact: content has digest %s, metadata declares %s: %w", digest, m.GetDigest(), store.ErrCorrupt)
	}
	if m.GetSize() != 0 && m.GetSize() != size {
		return nil, fmt.Errorf("put artifact %s: content has %d bytes, metadata declares %d: %w", digest, size, m.GetSize(), store.ErrCorrupt)
	}
	var out *orchestratorv1.Artifact
	err = s.txn(func(stm concurrency.STM) error {
		if raw := stm.Get(s.key("art", digest)); raw != "" {
			prev, err := decode([]byte(raw), &orchestratorv1.Artifact{}, "artifact "+digest)
			if err != nil {
				return err
			}
			out = prev
			if m.GetRunId() != "" {
				s.link(stm, m.GetRunId(), digest)
			}
			return nil
		}
		now := s.nextArtifactTime()
		a := proto.CloneOf(m)
		a.Digest, a.Size, a.CreateTime = digest, size, timestamppb.New(now)
		raw, err := store.MarshalOptions.Marshal(a)
		if err != nil {
			return fmt.Errorf("marshal metadata: %w", err)
		}
		if err := store.CheckValueSize("artifact metadata", len(raw)); err != nil {
			return err
		}
		tk := store.TimeKey(now)
		th := hex.EncodeToString(tk[:])
		stm.Put(s.key("art", digest), string(raw))
		stm.Put(s.key("arttime", th+digest), "1")
		if a.GetRunId() != "" {
			stm.Put(s.key("artlink", hx(a.GetRunId()), digest), th)
			stm.Put(s.key("artrun", hx(a.GetRunId()), th+digest), "1")
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put artifact %s: %w", digest, err)
	}
	return out, nil
}

// StatArtifact returns an artifact's metadata.
func (s *Store) StatArtifact(digest string) (*orchestratorv1.Artifact, error) {
	if _, err := store.ParseDigest(digest); err != nil {
		return nil, err
	}
	return s.statAt(digest, 0)
}

func (s *Store) statAt(digest string, rev int64) (*orchestratorv1.Artifact, error) {
	resp, err := s.get(s.key("art", digest), rev)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", digest, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("artifact %s: %w", digest, store.ErrNotFound)
	}
	return decode(resp.Kvs[0].Value, &orchestratorv1.Artifact{}, "artifact "+digest)
}

// StreamArtifact hands the content to fn in chunks of at most
// store.ChunkSize bytes, each a fresh copy. The whole is checked against
// the digest and size at the end (a blob store has no per-chunk digests):
// a mismatch or missing content returns an error matching store.ErrCorrupt
// after fn has seen the bytes, so callers that act on content (rather
// than relay it, as the gRPC download does, whose client checks the
// digest too) use ReadArtifact.
func (s *Store) StreamArtifact(digest string, fn func(chunk []byte) error) error {
	a, err := s.StatArtifact(digest)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var rc io.ReadCloser
	err = s.retryBlob(true, func() (err error) {
		rc, err = s.blobs.Open(ctx, digest)
		return err
	})
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("artifact %s: content is missing: %w", digest, store.ErrCorrupt)
	}
	if err != nil {
		return fmt.Errorf("artifact %s: %w", digest, err)
	}
	defer rc.Close()
	h := sha256.New()
	var total int64
	buf := make([]byte, store.ChunkSize)
	for {
		n, err := io.ReadFull(rc, buf)
		if n > 0 {
			total += int64(n)
			if total > a.GetSize() {
				return fmt.Errorf("artifact %s: content longer than %d bytes: %w", digest, a.GetSize(), store.ErrCorrupt)
			}
			h.Write(buf[:n])
			if ferr := fn(bytes.Clone(buf[:n])); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if errors.Is(err, blob.ErrCorrupt) {
			return fmt.Errorf("artifact %s: %w: %w", digest, store.ErrCorrupt, err)
		}
		if errors.Is(err, blob.ErrUnavailable) {
			return fmt.Errorf("artifact %s: read content: %w: %w", digest, store.ErrUnavailable, err)
		}
		if err != nil {
			return fmt.Errorf("artifact %s: read content: %w", digest, err)
		}
	}
	if total != a.GetSize() {
		return fmt.Errorf("artifact %s: content holds %d bytes, metadata says %d: %w", digest, total, a.GetSize(), store.ErrCorrupt)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("artifact %s: content hashes to %s: %w", digest, got, store.ErrCorrupt)
	}
	return nil
}

// ReadArtifact returns the whole content, verified before it is returned.
// A read that fails midway is retried whole, like a failed blob open.
func (s *Store) ReadArtifact(digest string) ([]byte, error) {
	var out []byte
	err := s.retryBlob(true, func() error {
		out = out[:0]
		err := s.StreamArtifact(digest, func(c []byte) error {
			out = append(out, c...)
			return nil
		})
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCorrupt) {
			return permanent{err}
		}
		return err
	})
	var p permanent
	if errors.As(err, &p) {
		err = p.err
	}
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// ListArtifacts returns a run's artifacts (every artifact for ""), oldest
// first.
func (s *Store) ListArtifacts(runID string) ([]*orchestratorv1.Artifact, error) {
	base := s.key("arttime") + "/"
	if runID != "" {
		if err := store.CheckID("run id", runID); err != nil {
			return nil, err
		}
		base = s.key("artrun", hx(runID)) + "/"
	}
	resp, err := s.get(base, 0, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	out := make([]*orchestratorv1.Artifact, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		if len(k) < len(base)+64 {
			return nil, fmt.Errorf("list artifacts: index key %q is malformed", k)
		}
		a, err := s.statAt(k[len(k)-64:], resp.Header.Revision)
		if err != nil {
			return nil, fmt.Errorf("list artifacts: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// LinkArtifact links an existing artifact to a run.
func (s *Store) LinkArtifact(runID, digest string) error {
	if err := store.CheckID("run id", runID); err != nil {
		return err
	}
	if _, err := store.ParseDigest(digest); err != nil {
		return err
	}
	return s.txn(func(stm concurrency.STM) error {
		if stm.Rev(s.key("art", digest)) == 0 {
			return fmt.Errorf("artifact %s: %w", digest, store.ErrNotFound)
		}
		s.link(stm, runID, digest)
		return nil
	})
}
