package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Check verifies the store and returns the problems found, one sentence
// each; none means healthy. It runs bbolt's page-level consistency check,
// checks that manifests, metadata and indexes agree, and re-hashes every
// artifact chunk by chunk. The error is for failing to run the check, not
// for problems found. Check reads every byte, so it is a maintenance
// operation, not something to run per request.
func (s *Store) Check() ([]string, error) {
	var problems []string
	// tx.Check is safe alongside writers only inside a writable
	// transaction; this one changes nothing.
	err := s.db.Update(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			problems = append(problems, "bbolt: "+err.Error())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}

	type manifestInfo struct {
		digest [digestSize]byte
		size   int64
		chunks [][digestSize]byte
	}
	var manifests []manifestInfo
	err = s.db.View(func(tx *bolt.Tx) error {
		arts := tx.Bucket(bucketArtifacts)
		man := tx.Bucket(bucketManifests)
		err := man.ForEach(func(k, v []byte) error {
			if len(k) != digestSize {
				problems = append(problems, fmt.Sprintf("manifest key %x is not a digest", k))
				return nil
			}
			size, chunks, err := decodeManifest(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("artifact %x: %v", k, err))
				return nil
			}
			m := manifestInfo{size: size, chunks: chunks}
			copy(m.digest[:], k)
			manifests = append(manifests, m)
			meta, err := getArtifactMeta(tx, k)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("artifact %x: metadata: %v", k, err))
			case meta.GetDigest() != formatDigest(k) || meta.GetSize() != size:
				problems = append(problems, fmt.Sprintf("artifact %x: metadata names digest %s, size %d; manifest has size %d", k, meta.GetDigest(), meta.GetSize(), size))
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = arts.ForEach(func(k, _ []byte) error {
			if man.Get(k) == nil {
				problems = append(problems, fmt.Sprintf("artifact %x: metadata without manifest", k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		problems = append(problems, checkArtifactIndexes(tx)...)
		problems = append(problems, checkRunIndexes(tx)...)
		problems = append(problems, checkDatasets(tx)...)
		problems = append(problems, checkRegistry(tx)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}

	// Content is verified one chunk per transaction, so checking a large
	// store does not hold a read transaction open for long.
	for _, m := range manifests {
		if err := s.streamChunks(m.digest, m.size, m.chunks, func([]byte) error { return nil }); err != nil {
			problems = append(problems, err.Error())
		}
	}
	// Orphan chunks are not damage, but space nothing can read: a write
	// that failed without cleaning up (a crash) left them. GC removes them.
	if u, err := s.Usage(); err == nil && u.OrphanChunks > 0 {
		problems = append(problems, fmt.Sprintf("%d orphan chunks (%d bytes) belong to no artifact; GC removes them", u.OrphanChunks, u.OrphanBytes))
	}
	return problems, nil
}

// checkArtifactIndexes reports artifact index entries that name no
// artifact or are malformed.
func checkArtifactIndexes(tx *bolt.Tx) []string {
	var problems []string
	arts := tx.Bucket(bucketArtifacts)
	_ = tx.Bucket(bucketArtifactsByTime).ForEach(func(k, _ []byte) error {
		if len(k) != timeKeySize+digestSize || arts.Get(k[timeKeySize:]) == nil {
			problems = append(problems, fmt.Sprintf("artifacts_by_time entry %x names no artifact", k))
		}
		return nil
	})
	_ = tx.Bucket(bucketArtifactsByRun).ForEach(func(k, _ []byte) error {
		if len(k) < 2+timeKeySize+digestSize || arts.Get(k[len(k)-digestSize:]) == nil {
			problems = append(problems, fmt.Sprintf("artifacts_by_run entry %x names no artifact", k))
		}
		return nil
	})
	return problems
}

// checkRunIndexes reports runs that do not decode and run index entries
// that name no run.
func checkRunIndexes(tx *bolt.Tx) []string {
	var problems []string
	// Each run's parts are adjacent; decode once per run.
	c := tx.Bucket(bucketRuns).Cursor()
	var prev []byte
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) < 2+4 {
			problems = append(problems, fmt.Sprintf("run key %x is malformed", k))
			continue
		}
		idKey := k[:len(k)-4]
		if bytes.Equal(idKey, prev) {
			continue
		}
		prev = bytes.Clone(idKey)
		id := string(idKey[2:])
		raw, _, err := getRunRaw(tx, id)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if err := proto.Unmarshal(raw, &orchestratorv1.Run{}); err != nil {
			problems = append(problems, fmt.Sprintf("run %q: decode: %v", id, err))
		}
	}
	_ = tx.Bucket(bucketRunsByTime).ForEach(func(k, _ []byte) error {
		if len(k) <= timeKeySize || !runExists(tx, string(k[timeKeySize:])) {
			problems = append(problems, fmt.Sprintf("runs_by_time entry %x names no run", k))
		}
		return nil
	})
	_ = tx.Bucket(bucketRunsUnfinished).ForEach(func(k, _ []byte) error {
		if !runExists(tx, string(k)) {
			problems = append(problems, fmt.Sprintf("runs_unfinished entry %q names no run", k))
		}
		return nil
	})
	return problems
}
