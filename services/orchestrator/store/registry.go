package store

// The model registry: named models with immutable, numbered versions and
// movable aliases. Its buckets extend the layout in the package comment:
//
//	model_heads     lp(name) -> orchestratorv1.RegisteredModel holding only
//	                name, create_time and latest_version (the highest
//	                number ever given, so a deleted version's number is
//	                never reused)
//	model_versions  lp(name) | version uint64 BE -> orchestratorv1.ModelVersion
//	                (deterministic proto, aliases left empty); written once,
//	                deleted at most once, never changed
//	model_aliases   lp(name) | alias -> orchestratorv1.ModelAlias
//
// An alias and the versions it may point at live in one file and change in
// one transaction each, so a reader sees an alias on the old version or the
// new one, and a version with an alias on it cannot be deleted.

import (
	"bytes"
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

// MaxModelNameLength bounds model and alias names, which become bbolt keys.
const MaxModelNameLength = 64

// ErrAliasInUse reports a model version an alias still points at, which
// cannot be deleted. It is wrapped with context naming the alias; check
// with errors.Is.
var ErrAliasInUse = errors.New("an alias points at the version")

var (
	bucketModelHeads    = []byte("model_heads")
	bucketModelVersions = []byte("model_versions")
	bucketModelAliases  = []byte("model_aliases")
)

// init adds the registry's buckets to those Open creates, so a store file
// made before the registry existed gains them on its next open.
func init() {
	allBuckets = append(allBuckets, bucketModelHeads, bucketModelVersions, bucketModelAliases)
}

func checkModelName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", what)
	case len(name) > MaxModelNameLength:
		return fmt.Errorf("%s is %d bytes, over the %d-byte limit", what, len(name), MaxModelNameLength)
	}
	return nil
}

func modelVersionKey(name string, version int64) []byte {
	return binary.BigEndian.AppendUint64(lp(name), uint64(version))
}

func modelAliasKey(name, alias string) []byte {
	return append(lp(name), alias...)
}

func getModelHead(tx *bolt.Tx, name string) (*orchestratorv1.RegisteredModel, error) {
	raw := tx.Bucket(bucketModelHeads).Get(lp(name))
	if raw == nil {
		return nil, fmt.Errorf("model %q: %w", name, ErrNotFound)
	}
	h := &orchestratorv1.RegisteredModel{}
	if err := proto.Unmarshal(raw, h); err != nil {
		return nil, fmt.Errorf("model %q: decode: %w", name, err)
	}
	return h, nil
}

func getModelVersion(tx *bolt.Tx, name string, version int64) (*orchestratorv1.ModelVersion, error) {
	raw := tx.Bucket(bucketModelVersions).Get(modelVersionKey(name, version))
	if raw == nil {
		return nil, fmt.Errorf("model %q version %d: %w", name, version, ErrNotFound)
	}
	v := &orchestratorv1.ModelVersion{}
	if err := proto.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("model %q version %d: decode: %w", name, version, err)
	}
	return v, nil
}

// modelAliases returns a model's aliases sorted by alias.
func modelAliases(tx *bolt.Tx, name string) ([]*orchestratorv1.ModelAlias, error) {
	var out []*orchestratorv1.ModelAlias
	prefix := lp(name)
	c := tx.Bucket(bucketModelAliases).Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		a := &orchestratorv1.ModelAlias{}
		if err := proto.Unmarshal(raw, a); err != nil {
			return nil, fmt.Errorf("model %q alias %q: decode: %w", name, k[len(prefix):], err)
		}
		out = append(out, a)
	}
	return out, nil
}

// fillAliases sets each version's aliases from the model's alias list.
func fillAliases(versions []*orchestratorv1.ModelVersion, aliases []*orchestratorv1.ModelAlias) {
	for _, v := range versions {
		v.Aliases = nil
		for _, a := range aliases {
			if a.GetVersion() == v.GetVersion() {
				v.Aliases = append(v.Aliases, a.GetAlias())
			}
		}
	}
}

// PutModelVersion registers v as the next version of the model v.name:
// version 1 for a new name, else one more than the highest number the name
// ever had. v.version is set here (any value given is ignored), and
// v.create_time must be valid. The model and transform digests must name
// stored artifacts (else the error matches ErrNotFound), so a version never
// points at nothing. It returns the stored version.
func (s *Store) PutModelVersion(v *orchestratorv1.ModelVersion) (*orchestratorv1.ModelVersion, error) {
	if v == nil {
		return nil, errors.New("put model version: nil version")
	}
	name := v.GetName()
	if err := checkModelName("model name", name); err != nil {
		return nil, fmt.Errorf("put model version: %w", err)
	}
	if _, err := timestampTime(v.GetCreateTime()); err != nil {
		return nil, fmt.Errorf("put model %q version: create_time: %w", name, err)
	}
	var raws [][digestSize]byte
	for _, d := range []string{v.GetModelDigest(), v.GetTransformDigest()} {
		raw, err := parseDigest(d)
		if err != nil {
			return nil, fmt.Errorf("put model %q version: %w", name, err)
		}
		raws = append(raws, raw)
	}
	out := proto.CloneOf(v)
	out.Aliases = nil
	err := s.db.Update(func(tx *bolt.Tx) error {
		man := tx.Bucket(bucketManifests)
		for i, d := range raws {
			if man.Get(d[:]) == nil {
				return fmt.Errorf("artifact %s: %w", []string{v.GetModelDigest(), v.GetTransformDigest()}[i], ErrNotFound)
			}
		}
		head, err := getModelHead(tx, name)
		if errors.Is(err, ErrNotFound) {
			head, err = &orchestratorv1.RegisteredModel{Name: name, CreateTime: v.GetCreateTime()}, nil
		}
		if err != nil {
			return err
		}
		head.LatestVersion++
		out.Version = head.GetLatestVersion()
		rawV, err := marshalOpts.Marshal(out)
		if err != nil {
			return err
		}
		if err := checkValueSize("model version", len(rawV)); err != nil {
			return err
		}
		rawH, err := marshalOpts.Marshal(head)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketModelVersions).Put(modelVersionKey(name, out.GetVersion()), rawV); err != nil {
			return err
		}
		return tx.Bucket(bucketModelHeads).Put(lp(name), rawH)
	})
	if err != nil {
		return nil, fmt.Errorf("put model %q version: %w", name, err)
	}
	return out, nil
}

// GetModel returns a registered model with every existing version, newest
// first, and its aliases, all read in one transaction; each version's
// aliases are filled in. A name never registered yields an error matching
// ErrNotFound; a model whose versions were all deleted has none.
func (s *Store) GetModel(name string) (*orchestratorv1.RegisteredModel, error) {
	if err := checkModelName("model name", name); err != nil {
		return nil, fmt.Errorf("get model: %w", err)
	}
	var m *orchestratorv1.RegisteredModel
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if m, err = getModelHead(tx, name); err != nil {
			return err
		}
		prefix := lp(name)
		c := tx.Bucket(bucketModelVersions).Cursor()
		for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			v := &orchestratorv1.ModelVersion{}
			if err := proto.Unmarshal(raw, v); err != nil {
				return fmt.Errorf("model %q: decode version: %w", name, err)
			}
			m.Versions = append(m.Versions, v)
		}
		m.Aliases, err = modelAliases(tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(m.Versions)-1; i < j; i, j = i+1, j-1 {
		m.Versions[i], m.Versions[j] = m.Versions[j], m.Versions[i]
	}
	fillAliases(m.Versions, m.Aliases)
	return m, nil
}

// ListModels returns every registered model sorted by name, each with its
// newest existing version (none if all were deleted) and its aliases.
func (s *Store) ListModels() ([]*orchestratorv1.RegisteredModel, error) {
	var out []*orchestratorv1.RegisteredModel
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketModelHeads).ForEach(func(k, raw []byte) error {
			h := &orchestratorv1.RegisteredModel{}
			if err := proto.Unmarshal(raw, h); err != nil {
				return fmt.Errorf("model head %x: decode: %w", k, err)
			}
			name := h.GetName()
			prefix := lp(name)
			c := tx.Bucket(bucketModelVersions).Cursor()
			var last []byte
			for vk, vraw := c.Seek(prefix); vk != nil && bytes.HasPrefix(vk, prefix); vk, vraw = c.Next() {
				if len(vk) == len(prefix)+8 {
					last = vraw
				}
			}
			if last != nil {
				v := &orchestratorv1.ModelVersion{}
				if err := proto.Unmarshal(last, v); err != nil {
					return fmt.Errorf("model %q: decode version: %w", name, err)
				}
				h.Versions = []*orchestratorv1.ModelVersion{v}
			}
			var err error
			if h.Aliases, err = modelAliases(tx, name); err != nil {
				return err
			}
			fillAliases(h.Versions, h.Aliases)
			out = append(out, h)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// SetModelAlias points a.alias of model name at a.version, replacing where
// it pointed before (recorded as previous_version), or removes it when
// a.version is 0. A missing model or version yields an error matching
// ErrNotFound. The update time is set here. It returns the alias as
// stored, nil after a removal.
func (s *Store) SetModelAlias(name string, a *orchestratorv1.ModelAlias) (*orchestratorv1.ModelAlias, error) {
	if err := checkModelName("model name", name); err != nil {
		return nil, fmt.Errorf("set model alias: %w", err)
	}
	if a == nil {
		return nil, errors.New("set model alias: nil alias")
	}
	if err := checkModelName("alias", a.GetAlias()); err != nil {
		return nil, fmt.Errorf("set model %q alias: %w", name, err)
	}
	if a.GetVersion() < 0 {
		return nil, fmt.Errorf("set model %q alias %q: version %d: %w", name, a.GetAlias(), a.GetVersion(), ErrNotFound)
	}
	var out *orchestratorv1.ModelAlias
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getModelHead(tx, name); err != nil {
			return err
		}
		b := tx.Bucket(bucketModelAliases)
		key := modelAliasKey(name, a.GetAlias())
		var prev int64
		if raw := b.Get(key); raw != nil {
			old := &orchestratorv1.ModelAlias{}
			if err := proto.Unmarshal(raw, old); err != nil {
				return fmt.Errorf("alias %q: decode: %w", a.GetAlias(), err)
			}
			prev = old.GetVersion()
		}
		if a.GetVersion() == 0 {
			if prev == 0 {
				return fmt.Errorf("alias %q: %w", a.GetAlias(), ErrNotFound)
			}
			return b.Delete(key)
		}
		if _, err := getModelVersion(tx, name, a.GetVersion()); err != nil {
			return err
		}
		out = proto.CloneOf(a)
		out.PreviousVersion = prev
		out.UpdateTime = timestamppb.New(time.Now().UTC())
		raw, err := marshalOpts.Marshal(out)
		if err != nil {
			return err
		}
		if err := checkValueSize("model alias", len(raw)); err != nil {
			return err
		}
		return b.Put(key, raw)
	})
	if err != nil {
		return nil, fmt.Errorf("set model %q alias %q: %w", name, a.GetAlias(), err)
	}
	return out, nil
}

// DeleteModelVersion removes one version of a model and returns it. While
// an alias points at it the error matches ErrAliasInUse and names the
// alias; a missing model or version matches ErrNotFound. The version's
// number is never given again.
func (s *Store) DeleteModelVersion(name string, version int64) (*orchestratorv1.ModelVersion, error) {
	if err := checkModelName("model name", name); err != nil {
		return nil, fmt.Errorf("delete model version: %w", err)
	}
	var out *orchestratorv1.ModelVersion
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getModelHead(tx, name); err != nil {
			return err
		}
		var err error
		if out, err = getModelVersion(tx, name, version); err != nil {
			return err
		}
		aliases, err := modelAliases(tx, name)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			if a.GetVersion() == version {
				return fmt.Errorf("alias %q: %w", a.GetAlias(), ErrAliasInUse)
			}
		}
		return tx.Bucket(bucketModelVersions).Delete(modelVersionKey(name, version))
	})
	if err != nil {
		return nil, fmt.Errorf("delete model %q version %d: %w", name, version, err)
	}
	return out, nil
}

// checkRegistry reports registry entries that do not decode, versions that
// name artifacts the store no longer has or whose model has no head, and
// aliases that point at a missing version.
func checkRegistry(tx *bolt.Tx) []string {
	var problems []string
	man := tx.Bucket(bucketManifests)
	heads := tx.Bucket(bucketModelHeads)
	versions := tx.Bucket(bucketModelVersions)
	_ = versions.ForEach(func(k, raw []byte) error {
		v := &orchestratorv1.ModelVersion{}
		if err := proto.Unmarshal(raw, v); err != nil {
			problems = append(problems, fmt.Sprintf("model version %x: decode: %v", k, err))
			return nil
		}
		if heads.Get(lp(v.GetName())) == nil {
			problems = append(problems, fmt.Sprintf("model %q version %d has no model record", v.GetName(), v.GetVersion()))
		}
		for _, d := range []string{v.GetModelDigest(), v.GetTransformDigest()} {
			if raw, err := parseDigest(d); err != nil || man.Get(raw[:]) == nil {
				problems = append(problems, fmt.Sprintf("model %q version %d names missing artifact %s", v.GetName(), v.GetVersion(), d))
			}
		}
		return nil
	})
	_ = tx.Bucket(bucketModelAliases).ForEach(func(k, raw []byte) error {
		a := &orchestratorv1.ModelAlias{}
		if err := proto.Unmarshal(raw, a); err != nil {
			problems = append(problems, fmt.Sprintf("model alias %x: decode: %v", k, err))
			return nil
		}
		if len(k) < 2 {
			problems = append(problems, fmt.Sprintf("model alias key %x is malformed", k))
			return nil
		}
		n := int(binary.BigEndian.Uint16(k))
		if len(k) < 2+n {
			problems = append(problems, fmt.Sprintf("model alias key %x is malformed", k))
			return nil
		}
		if versions.Get(modelVersionKey(string(k[2:2+n]), a.GetVersion())) == nil {
			problems = append(problems, fmt.Sprintf("model %q alias %q points at missing version %d", k[2:2+n], a.GetAlias(), a.GetVersion()))
		}
		return nil
	})
	return problems
}
