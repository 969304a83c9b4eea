package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// MaxDatasetNameLength bounds dataset names, which become bbolt keys.
const MaxDatasetNameLength = 64

// ErrVersionConflict reports a dataset version that is not the next one:
// another append made it first, or it already exists (versions are
// immutable). It is wrapped with context; check with errors.Is.
var ErrVersionConflict = errors.New("dataset version conflict")

// datasetVersionKey is the key of one version: lp(name), then the version
// as a big-endian uint64, so a prefix scan for a name yields its versions
// oldest first.
func datasetVersionKey(name string, version int64) []byte {
	return binary.BigEndian.AppendUint64(lp(name), uint64(version))
}

func checkDatasetName(name string) error {
	switch {
	case name == "":
		return errors.New("dataset name is empty")
	case len(name) > MaxDatasetNameLength:
		return fmt.Errorf("dataset name is %d bytes, over the %d-byte limit", len(name), MaxDatasetNameLength)
	}
	return nil
}

// latestDatasetVersion returns the newest version number of a dataset
// within tx, 0 when it has none.
func latestDatasetVersion(tx *bolt.Tx, name string) int64 {
	prefix := lp(name)
	c := tx.Bucket(bucketDatasets).Cursor()
	// Versions stay below 2^63, so the prefix followed by eight 0xff bytes
	// sorts after every version of name: the key before it is the latest.
	k, _ := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), ^uint64(0)))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k[len(prefix):]))
}

// PutDatasetVersion records the next version of a dataset. v.version must
// be exactly one more than the dataset's latest version (1 for a new
// name), else the error matches ErrVersionConflict: two appends racing for
// one number cannot both win, and a version once written never changes.
// v.artifact_digest and every batch digest must name stored artifacts
// (else the error matches ErrNotFound), so a version never points at
// nothing.
func (s *Store) PutDatasetVersion(name string, v *orchestratorv1.DatasetVersion) error {
	if err := checkDatasetName(name); err != nil {
		return fmt.Errorf("put dataset version: %w", err)
	}
	if v == nil || v.GetVersion() < 1 {
		return fmt.Errorf("put dataset %q version: version must be 1 or more", name)
	}
	if _, err := timestampTime(v.GetCreateTime()); err != nil {
		return fmt.Errorf("put dataset %q version %d: create_time: %w", name, v.GetVersion(), err)
	}
	digests := append([]string{v.GetArtifactDigest()}, v.GetBatchDigests()...)
	raws := make([][digestSize]byte, len(digests))
	for i, d := range digests {
		var err error
		if raws[i], err = parseDigest(d); err != nil {
			return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
		}
	}
	raw, err := marshalOpts.Marshal(v)
	if err != nil {
		return fmt.Errorf("put dataset %q version %d: marshal: %w", name, v.GetVersion(), err)
	}
	if err := checkValueSize("dataset version", len(raw)); err != nil {
		return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if latest := latestDatasetVersion(tx, name); v.GetVersion() != latest+1 {
			return fmt.Errorf("version %d, but the latest is %d: %w", v.GetVersion(), latest, ErrVersionConflict)
		}
		man := tx.Bucket(bucketManifests)
		for i, d := range raws {
			if man.Get(d[:]) == nil {
				return fmt.Errorf("artifact %s: %w", digests[i], ErrNotFound)
			}
		}
		return tx.Bucket(bucketDatasets).Put(datasetVersionKey(name, v.GetVersion()), raw)
	})
	if err != nil {
		return fmt.Errorf("put dataset %q version %d: %w", name, v.GetVersion(), err)
	}
	return nil
}

func decodeDatasetVersion(name string, raw []byte) (*orchestratorv1.DatasetVersion, error) {
	v := &orchestratorv1.DatasetVersion{}
	if err := proto.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("dataset %q: decode version: %w", name, err)
	}
	return v, nil
}

// DatasetVersion returns one version of a dataset; version 0 means the
// latest. A missing dataset or version yields an error matching
// ErrNotFound.
func (s *Store) DatasetVersion(name string, version int64) (*orchestratorv1.DatasetVersion, error) {
	if err := checkDatasetName(name); err != nil {
		return nil, fmt.Errorf("get dataset version: %w", err)
	}
	if version < 0 {
		return nil, fmt.Errorf("dataset %q version %d: %w", name, version, ErrNotFound)
	}
	var out *orchestratorv1.DatasetVersion
	err := s.db.View(func(tx *bolt.Tx) error {
		n := version
		if n == 0 {
			if n = latestDatasetVersion(tx, name); n == 0 {
				return fmt.Errorf("dataset %q: %w", name, ErrNotFound)
			}
		}
		raw := tx.Bucket(bucketDatasets).Get(datasetVersionKey(name, n))
		if raw == nil {
			if latestDatasetVersion(tx, name) == 0 {
				return fmt.Errorf("dataset %q: %w", name, ErrNotFound)
			}
			return fmt.Errorf("dataset %q version %d: %w", name, n, ErrNotFound)
		}
		var err error
		out, err = decodeDatasetVersion(name, raw)
		return err
	})
	return out, err
}

// GetDataset returns a dataset with every version, newest first, or an
// error matching ErrNotFound.
func (s *Store) GetDataset(name string) (*orchestratorv1.Dataset, error) {
	if err := checkDatasetName(name); err != nil {
		return nil, fmt.Errorf("get dataset: %w", err)
	}
	d := &orchestratorv1.Dataset{Name: name}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := lp(name)
		c := tx.Bucket(bucketDatasets).Cursor()
		for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			v, err := decodeDatasetVersion(name, raw)
			if err != nil {
				return err
			}
			d.Versions = append(d.Versions, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.Versions) == 0 {
		return nil, fmt.Errorf("dataset %q: %w", name, ErrNotFound)
	}
	d.CreateTime = d.Versions[0].GetCreateTime()
	d.LatestVersion = d.Versions[len(d.Versions)-1].GetVersion()
	for i, j := 0, len(d.Versions)-1; i < j; i, j = i+1, j-1 {
		d.Versions[i], d.Versions[j] = d.Versions[j], d.Versions[i]
	}
	return d, nil
}

// ListDatasets returns every dataset sorted by name, each with its latest
// version only.
func (s *Store) ListDatasets() ([]*orchestratorv1.Dataset, error) {
	var out []*orchestratorv1.Dataset
	err := s.db.View(func(tx *bolt.Tx) error {
		var cur *orchestratorv1.Dataset
		var last []byte
		flush := func() error {
			if cur == nil {
				return nil
			}
			v, err := decodeDatasetVersion(cur.GetName(), last)
			if err != nil {
				return err
			}
			cur.LatestVersion, cur.Versions = v.GetVersion(), []*orchestratorv1.DatasetVersion{v}
			out = append(out, cur)
			return nil
		}
		c := tx.Bucket(bucketDatasets).Cursor()
		for k, raw := c.First(); k != nil; k, raw = c.Next() {
			if len(k) < 2+8 {
				continue
			}
			n := int(binary.BigEndian.Uint16(k))
			if len(k) != 2+n+8 {
				continue
			}
			name := string(k[2 : 2+n])
			if cur == nil || cur.GetName() != name {
				if err := flush(); err != nil {
					return err
				}
				cur = &orchestratorv1.Dataset{Name: name}
				first, err := decodeDatasetVersion(name, raw)
				if err != nil {
					return err
				}
				cur.CreateTime = first.GetCreateTime()
			}
			last = raw
		}
		return flush()
	})
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// checkDatasets reports dataset versions that do not decode or name
// artifacts the store no longer has.
func checkDatasets(tx *bolt.Tx) []string {
	var problems []string
	man := tx.Bucket(bucketManifests)
	_ = tx.Bucket(bucketDatasets).ForEach(func(k, raw []byte) error {
		v := &orchestratorv1.DatasetVersion{}
		if err := proto.Unmarshal(raw, v); err != nil {
			problems = append(problems, fmt.Sprintf("dataset version %x: decode: %v", k, err))
			return nil
		}
		for _, d := range append([]string{v.GetArtifactDigest()}, v.GetBatchDigests()...) {
			raw, err := parseDigest(d)
			if err != nil || man.Get(raw[:]) == nil {
				problems = append(problems, fmt.Sprintf("dataset version %x names missing artifact %s", k, d))
			}
		}
		return nil
	})
	return problems
}
