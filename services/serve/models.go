package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/dataprep"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

// model is one registry version, decoded once and kept: the fitted
// transform and model that predict, and the raw columns they read. It is
// never changed after loading, so requests share it without locks.
type model struct {
	name    string
	version int64
	meta    *orchestratorv1.ModelVersion
	tr      *datav1.FittedTransform
	// m holds the model's algorithm, task, class and feature names; its
	// parameters are dropped once predict is prepared.
	m *datav1.Model
	// predict is the model prepared for prediction once (trees decoded).
	predict algo.Predictor
	// inputs are the raw columns a request sends, in transform order.
	inputs []*datav1.Field
	// bytes is the size of the serialized model and transform.
	bytes int64
}

// versionKey names one immutable version in the cache.
func versionKey(name string, version int64) string {
	return name + "@" + strconv.FormatInt(version, 10)
}

// loadCall is one load of a version in progress or done; concurrent
// requests for the same version wait on done and share the result.
type loadCall struct {
	done chan struct{}
	m    *model
	err  error
	// used is when a request last asked for the version (UnixNano), for
	// evicting the least recently used beyond MaxModels.
	used atomic.Int64
}

// resolved is where a movable reference (a bare name or an alias) pointed
// when last asked.
type resolved struct {
	version int64
	at      time.Time
}

// models loads registry versions on first use and keeps them.
type models struct {
	cfg *Config

	mu       sync.Mutex
	versions map[string]*loadCall // by versionKey
	refs     map[string]resolved  // by "name" or "name@alias"
}

func newModels(cfg *Config) *models {
	return &models{cfg: cfg, versions: map[string]*loadCall{}, refs: map[string]resolved{}}
}

// splitRef turns the protocol's model name and version into a registry
// reference. The version may be a number or an alias, or be given in the
// name as "name@version" (handy in URLs); neither means the newest.
func splitRef(name, version string) (ref string, fixed int64, err error) {
	if name == "" {
		return "", 0, serverkit.InvalidArgument("model_name", "is required")
	}
	if n, v, ok := strings.Cut(name, "@"); ok {
		if version != "" && version != v {
			return "", 0, serverkit.InvalidArgument("model_version", fmt.Sprintf("%q, but model_name %q names version %q", version, name, v))
		}
		name, version = n, v
	}
	if version == "" || version == "latest" {
		return name, 0, nil
	}
	if version[0] >= '0' && version[0] <= '9' {
		n, err := strconv.ParseInt(version, 10, 64)
		if err != nil || n < 1 {
			return "", 0, serverkit.InvalidArgument("model_version", fmt.Sprintf("%q is not a version number from 1 or an alias", version))
		}
		return versionKey(name, n), n, nil
	}
	return name + "@" + version, 0, nil
}

// get returns the model a request names: a fixed version straight from
// the cache, a bare name or alias through a resolution at most AliasTTL
// old. While the registry cannot be reached, a reference resolved before
// keeps answering with the version it last named.
func (ms *models) get(ctx context.Context, name, version string) (*model, error) {
	ref, fixed, err := splitRef(name, version)
	if err != nil {
		return nil, err
	}
	if fixed == 0 {
		ms.mu.Lock()
		r, ok := ms.refs[ref]
		ms.mu.Unlock()
		if !ok || time.Since(r.at) >= ms.cfg.AliasTTL {
			v, err := ms.resolve(ctx, ref)
			switch {
			case err == nil:
				r = resolved{version: v, at: time.Now()}
				ms.mu.Lock()
				ms.refs[ref] = r
				ms.mu.Unlock()
			case ok && status.Code(err) == codes.Unavailable:
				ms.cfg.Logger.Warn("registry unreachable: serving the version last resolved", "ref", ref, "version", r.version, "err", err)
			default:
				return nil, err
			}
		}
		fixed = r.version
		ref = versionKey(strings.SplitN(ref, "@", 2)[0], fixed)
	}
	return ms.load(ctx, ref)
}

// resolve asks the registry which version a reference names now.
func (ms *models) resolve(ctx context.Context, ref string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, ms.cfg.RegistryTimeout)
	defer cancel()
	resp, err := ms.cfg.Registry.GetModel(ctx, &orchestratorv1.GetModelRequest{Ref: ref})
	if err != nil {
		return 0, registryError(ref, err)
	}
	return resp.GetVersion().GetVersion(), nil
}

// registryError passes the registry's NOT_FOUND and INVALID_ARGUMENT on
// (they name the model or version) and says which reference failed.
func registryError(ref string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound, codes.InvalidArgument:
		return status.Errorf(st.Code(), "model %s: %s", ref, st.Message())
	case codes.Unavailable, codes.DeadlineExceeded:
		return status.Errorf(codes.Unavailable, "model %s: the registry (orchestrator) is unreachable: %s", ref, st.Message())
	}
	return status.Errorf(st.Code(), "model %s: registry: %s", ref, st.Message())
}

// load returns a version from the cache, loading it once: concurrent
// callers wait for the same load. A failed load is forgotten, so the next
// request tries again.
func (ms *models) load(ctx context.Context, key string) (*model, error) {
	ms.mu.Lock()
	c, ok := ms.versions[key]
	if !ok {
		c = &loadCall{done: make(chan struct{})}
		c.used.Store(time.Now().UnixNano())
		ms.versions[key] = c
		ms.evict()
		ms.mu.Unlock()
		// The load outlives a cancelled caller: others may be waiting.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ms.cfg.RegistryTimeout)
		c.m, c.err = ms.fetch(lctx, key)
		cancel()
		if c.err != nil {
			ms.mu.Lock()
			delete(ms.versions, key)
			ms.mu.Unlock()
		} else {
			ms.cfg.Logger.Info("model loaded", "model", c.m.name, "version", c.m.version, "algorithm", c.m.m.GetAlgorithm(), "bytes", c.m.bytes)
		}
		close(c.done)
	} else {
		ms.mu.Unlock()
		c.used.Store(time.Now().UnixNano())
	}
	select {
	case <-c.done:
		return c.m, c.err
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// evict drops the least recently used loaded versions while more than
// MaxModels are held. A request already holding a dropped version finishes
// with it; the next one loads it again. ms.mu is held.
func (ms *models) evict() {
	for len(ms.versions) > ms.cfg.MaxModels {
		var oldest string
		var at int64
		for k, c := range ms.versions {
			select {
			case <-c.done:
			default:
				continue // loading: not evictable
			}
			if u := c.used.Load(); oldest == "" || u < at {
				oldest, at = k, u
			}
		}
		if oldest == "" {
			return
		}
		ms.cfg.Logger.Info("model evicted", "model", oldest, "max_models", ms.cfg.MaxModels)
		delete(ms.versions, oldest)
	}
}

// loaded lists the versions in memory.
func (ms *models) loaded() []*model {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []*model
	for _, c := range ms.versions {
		select {
		case <-c.done:
			if c.m != nil {
				out = append(out, c.m)
			}
		default:
		}
	}
	return out
}

// fetch reads a version's record and artifacts from the registry and
// decodes them, refusing a model over MaxModelBytes before reading it.
func (ms *models) fetch(ctx context.Context, key string) (*model, error) {
	resp, err := ms.cfg.Registry.GetModel(ctx, &orchestratorv1.GetModelRequest{Ref: key})
	if err != nil {
		return nil, registryError(key, err)
	}
	v := resp.GetVersion()
	if v.GetModelSize() > ms.cfg.MaxModelBytes {
		return nil, serverkit.ResourceExhausted("max_model_bytes",
			fmt.Sprintf("model %s is %d bytes, over this server's --max-model-bytes limit of %d", key, v.GetModelSize(), ms.cfg.MaxModelBytes))
	}
	mb, err := ms.artifact(ctx, key, v.GetModelDigest())
	if err != nil {
		return nil, err
	}
	tb, err := ms.artifact(ctx, key, v.GetTransformDigest())
	if err != nil {
		return nil, err
	}
	out := &model{name: v.GetName(), version: v.GetVersion(), meta: v, tr: &datav1.FittedTransform{}, m: &datav1.Model{}, bytes: int64(len(mb) + len(tb))}
	if err := proto.Unmarshal(mb, out.m); err != nil {
		return nil, status.Errorf(codes.DataLoss, "model %s: decode the model: %v", key, err)
	}
	if err := proto.Unmarshal(tb, out.tr); err != nil {
		return nil, status.Errorf(codes.DataLoss, "model %s: decode the transform: %v", key, err)
	}
	if err := check(out); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "model %s cannot be served: %v", key, err)
	}
	return out, nil
}

// check validates a decoded version and lists its inputs: the transform
// must be sound, make the model's features, and the model's algorithm be
// known.
func check(m *model) error {
	if err := dataprep.ValidateTransform(m.tr); err != nil {
		return err
	}
	got, want := m.tr.GetFeatureNames(), m.m.GetFeatureNames()
	if len(got) != len(want) {
		return fmt.Errorf("the transform makes %d features, the model expects %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("feature %d is %q, the model expects %q", i, got[i], want[i])
		}
	}
	if m.m.GetTask() == datav1.Task_TASK_CLASSIFICATION && len(m.m.GetClassNames()) < 2 {
		return errors.New("a classifier without classes")
	}
	var err error
	if m.predict, err = algo.Prepare(m.m, len(want)); err != nil {
		return err
	}
	// The prepared predictor holds what it needs of the parameters (a
	// forest its laid-out trees); the server keeps only the fields it
	// answers with, so the decoded trees are not held twice.
	m.m = &datav1.Model{
		Algorithm:    m.m.GetAlgorithm(),
		Task:         m.m.GetTask(),
		ClassNames:   m.m.GetClassNames(),
		FeatureNames: m.m.GetFeatureNames(),
	}
	for _, ct := range m.tr.GetColumns() {
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_DROP || ct.GetName() == m.tr.GetLabel() {
			continue
		}
		m.inputs = append(m.inputs, &datav1.Field{Name: ct.GetName(), Type: ct.GetType()})
	}
	return nil
}

// artifact reads one artifact whole, refusing more than MaxModelBytes.
func (ms *models) artifact(ctx context.Context, key, digest string) ([]byte, error) {
	stream, err := ms.cfg.Registry.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: digest})
	if err != nil {
		return nil, registryError(key, err)
	}
	var buf []byte
	for {
		part, err := stream.Recv()
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, registryError(key, err)
		}
		if a := part.GetArtifact(); a != nil {
			if a.GetSize() > ms.cfg.MaxModelBytes {
				return nil, serverkit.ResourceExhausted("max_model_bytes",
					fmt.Sprintf("model %s: artifact %s is %d bytes, over this server's --max-model-bytes limit of %d", key, digest, a.GetSize(), ms.cfg.MaxModelBytes))
			}
			buf = make([]byte, 0, a.GetSize())
			continue
		}
		if int64(len(buf)+len(part.GetChunk())) > ms.cfg.MaxModelBytes {
			return nil, serverkit.ResourceExhausted("max_model_bytes",
				fmt.Sprintf("model %s: artifact %s exceeds this server's --max-model-bytes limit of %d", key, digest, ms.cfg.MaxModelBytes))
		}
		buf = append(buf, part.GetChunk()...)
	}
}
