// Package storecopy moves everything one store.Backend holds into another
// (a bbolt file into etcd and a blob store, or back), then checks the copy
// by digests: each section of both stores (runs with their events,
// artifacts with their verified content, run links, the step cache,
// datasets, models) is summarised as a sha256 over a canonical listing,
// and the summaries must match.
//
// What a copy cannot keep: artifact create times (the destination stamps
// its own, in the source's order), and alias update times and previous
// versions (set anew when the alias is set). Neither is in the digests.
package storecopy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// Report counts what a copy moved.
type Report struct {
	Runs, Events, Artifacts, Links, CacheEntries, DatasetVersions, ModelVersions, Aliases int
	Bytes                                                                                 int64
}

// Copy writes everything in src into dst, which should be empty, and then
// compares their digests (Verify).
func Copy(dst, src store.Backend) (Report, error) {
	var r Report
	arts, err := src.ListArtifacts("")
	if err != nil {
		return r, err
	}
	for _, a := range arts {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(src.StreamArtifact(a.GetDigest(), func(c []byte) error {
				_, err := pw.Write(c)
				return err
			}))
		}()
		meta := proto.CloneOf(a)
		meta.CreateTime = nil
		// The declared digest and size make the destination check the
		// content it received.
		if _, err := dst.PutArtifactStream(meta, pr); err != nil {
			_ = pr.CloseWithError(err)
			return r, fmt.Errorf("artifact %s: %w", a.GetDigest(), err)
		}
		r.Artifacts++
		r.Bytes += a.GetSize()
	}

	runs, err := allRuns(src)
	if err != nil {
		return r, err
	}
	for _, run := range runs {
		if err := dst.PutRun(run); err != nil {
			return r, err
		}
		evs, err := src.Events(run.GetId(), 0)
		if err != nil {
			return r, err
		}
		for _, ev := range evs {
			got, err := dst.AppendEvent(run.GetId(), ev)
			if err != nil {
				return r, err
			}
			if got.GetSequence() != ev.GetSequence() {
				return r, fmt.Errorf("run %s: event %d landed as %d: is the destination empty?", run.GetId(), ev.GetSequence(), got.GetSequence())
			}
			r.Events++
		}
		links, err := src.ListArtifacts(run.GetId())
		if err != nil {
			return r, err
		}
		for _, a := range links {
			if err := dst.LinkArtifact(run.GetId(), a.GetDigest()); err != nil {
				return r, err
			}
			r.Links++
		}
		r.Runs++
	}

	if cl, ok := src.(store.CacheLister); ok {
		err := cl.CacheEntries(func(key string, outs []string) error {
			r.CacheEntries++
			err := dst.CachePut(key, outs)
			if errors.Is(err, store.ErrNotFound) {
				return nil // an entry whose outputs are gone is a miss anyway
			}
			return err
		})
		if err != nil {
			return r, fmt.Errorf("step cache: %w", err)
		}
	}

	dss, err := src.ListDatasets()
	if err != nil {
		return r, err
	}
	for _, d := range dss {
		full, err := src.GetDataset(d.GetName())
		if err != nil {
			return r, err
		}
		vs := slices.Clone(full.GetVersions())
		slices.Reverse(vs) // oldest first
		for _, v := range vs {
			if err := dst.PutDatasetVersion(d.GetName(), v); err != nil {
				return r, err
			}
			r.DatasetVersions++
		}
	}

	if err := copyModels(dst, src, &r); err != nil {
		return r, err
	}
	return r, Verify(dst, src)
}

// allRuns pages through every run, newest first.
func allRuns(b store.Backend) ([]*orchestratorv1.Run, error) {
	var out []*orchestratorv1.Run
	tok := ""
	for {
		runs, next, err := b.ListRuns(store.MaxPageSize, tok)
		if err != nil {
			return nil, err
		}
		out = append(out, runs...)
		if next == "" {
			return out, nil
		}
		tok = next
	}
}

// copyModels registers each model's versions under the same numbers: a
// number whose version was deleted is taken by a placeholder, deleted
// again, since the registry never gives a number twice.
func copyModels(dst, src store.Backend, r *Report) error {
	models, err := src.ListModels()
	if err != nil {
		return err
	}
	for _, m := range models {
		full, err := src.GetModel(m.GetName())
		if err != nil {
			return err
		}
		byNum := map[int64]*orchestratorv1.ModelVersion{}
		for _, v := range full.GetVersions() {
			byNum[v.GetVersion()] = v
		}
		var placeholder *orchestratorv1.ModelVersion
		for n := int64(1); n <= full.GetLatestVersion(); n++ {
			v, ok := byNum[n]
			if !ok {
				if placeholder == nil {
					if placeholder, err = placeholderVersion(dst, full); err != nil {
						return err
					}
				}
				v = placeholder
			}
			v = proto.CloneOf(v)
			v.Aliases = nil
			got, err := dst.PutModelVersion(v)
			if err != nil {
				return err
			}
			if got.GetVersion() != n {
				return fmt.Errorf("model %q: version %d landed as %d: is the destination empty?", m.GetName(), n, got.GetVersion())
			}
			if !ok {
				if _, err := dst.DeleteModelVersion(m.GetName(), n); err != nil {
					return err
				}
				continue
			}
			r.ModelVersions++
		}
		for _, a := range full.GetAliases() {
			if _, err := dst.SetModelAlias(m.GetName(), &orchestratorv1.ModelAlias{Alias: a.GetAlias(), Version: a.GetVersion()}); err != nil {
				return err
			}
			r.Aliases++
		}
	}
	return nil
}

// placeholderVersion is a version of m to fill a deleted number: it names
// the artifacts of one of m's versions, and m's create time so the
// model's head keeps it. A model with no version left gets an empty
// artifact (which then shows in the copy's artifact digest).
func placeholderVersion(dst store.Backend, m *orchestratorv1.RegisteredModel) (*orchestratorv1.ModelVersion, error) {
	p := &orchestratorv1.ModelVersion{Name: m.GetName(), CreateTime: m.GetCreateTime()}
	if vs := m.GetVersions(); len(vs) > 0 {
		p.ModelDigest, p.TransformDigest = vs[0].GetModelDigest(), vs[0].GetTransformDigest()
		return p, nil
	}
	empty, err := dst.PutArtifact(nil, nil)
	if err != nil {
		return nil, err
	}
	p.ModelDigest, p.TransformDigest = empty.GetDigest(), empty.GetDigest()
	return p, nil
}

// Digests summarises each section of a store as a sha256.
func Digests(b store.Backend) (map[string]string, error) {
	hs := map[string]*sectionHash{}
	for _, s := range []string{"runs", "artifacts", "links", "cache", "datasets", "models"} {
		hs[s] = &sectionHash{h: sha256.New()}
	}
	runs, err := allRuns(b)
	if err != nil {
		return nil, err
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].GetId() < runs[j].GetId() })
	for _, run := range runs {
		hs["runs"].msg(run)
		evs, err := b.Events(run.GetId(), 0)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			hs["runs"].msg(ev)
		}
		links, err := b.ListArtifacts(run.GetId())
		if err != nil {
			return nil, err
		}
		ds := make([]string, 0, len(links))
		for _, a := range links {
			ds = append(ds, a.GetDigest())
		}
		sort.Strings(ds)
		hs["links"].str(run.GetId())
		for _, d := range ds {
			hs["links"].str(d)
		}
	}
	arts, err := b.ListArtifacts("")
	if err != nil {
		return nil, err
	}
	sort.Slice(arts, func(i, j int) bool { return arts[i].GetDigest() < arts[j].GetDigest() })
	for _, a := range arts {
		// Reading verifies the content against its digest.
		h := sha256.New()
		if err := b.StreamArtifact(a.GetDigest(), func(c []byte) error { h.Write(c); return nil }); err != nil {
			return nil, err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != a.GetDigest() {
			return nil, fmt.Errorf("artifact %s: content hashes to %s: %w", a.GetDigest(), got, store.ErrCorrupt)
		}
		m := proto.CloneOf(a)
		m.CreateTime = nil
		hs["artifacts"].msg(m)
	}
	if cl, ok := b.(store.CacheLister); ok {
		err := cl.CacheEntries(func(key string, outs []string) error {
			if _, ok, err := b.CacheGet(key); err != nil || !ok {
				return err // a stale entry is not carried over
			}
			hs["cache"].str(key)
			for _, o := range outs {
				hs["cache"].str(o)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	dss, err := b.ListDatasets()
	if err != nil {
		return nil, err
	}
	for _, d := range dss {
		full, err := b.GetDataset(d.GetName())
		if err != nil {
			return nil, err
		}
		hs["datasets"].msg(full)
	}
	models, err := b.ListModels()
	if err != nil {
		return nil, err
	}
	for _, m := range models {
		full, err := b.GetModel(m.GetName())
		if err != nil {
			return nil, err
		}
		for _, a := range full.GetAliases() {
			a.UpdateTime, a.PreviousVersion = nil, 0
		}
		hs["models"].msg(full)
	}
	out := map[string]string{}
	for s, h := range hs {
		out[s] = hex.EncodeToString(h.h.Sum(nil))
	}
	return out, nil
}

// Verify compares the section digests of two stores.
func Verify(dst, src store.Backend) error {
	want, err := Digests(src)
	if err != nil {
		return fmt.Errorf("source digests: %w", err)
	}
	got, err := Digests(dst)
	if err != nil {
		return fmt.Errorf("destination digests: %w", err)
	}
	var bad []string
	for s, d := range want {
		if got[s] != d {
			bad = append(bad, fmt.Sprintf("%s (source %s, copy %s)", s, d[:12], got[s][:12]))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("the copy differs from the source in %v", bad)
	}
	return nil
}

// sectionHash hashes length-prefixed records, so concatenations cannot
// collide.
type sectionHash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (s *sectionHash) str(v string) { s.bytes([]byte(v)) }

func (s *sectionHash) msg(m proto.Message) {
	b, _ := store.MarshalOptions.Marshal(m)
	s.bytes(b)
}

func (s *sectionHash) bytes(b []byte) {
	var n [8]byte
	for i := range n {
		n[i] = byte(uint64(len(b)) >> (56 - 8*i))
	}
	s.h.Write(n[:])
	s.h.Write(b)
}
