package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// cacheValueVersion tags a cache value's layout (it also keeps the value
// non-empty when a step has no outputs).
const cacheValueVersion = 1

// maxCacheOutputs is the most output digests one cache value can hold.
const maxCacheOutputs = (ChunkSize - 1) / digestSize

// CacheKey hashes parts into a step cache key: the lowercase hex sha256 of
// each part prefixed by its length as a big-endian uint64. The prefixes
// make the encoding injective, so ("ab", "c") and ("a", "bc") differ.
// Callers pass the stage, its version, the canonical request and the input
// digests.
func CacheKey(parts ...[]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CachePut records that the step with this key produced outputs (artifact
// digests, in order). Every output must already be stored; an unknown one
// yields an error matching ErrNotFound. A later put replaces the entry.
func (s *Store) CachePut(key string, outputs []string) error {
	if err := checkID("cache key", key); err != nil {
		return fmt.Errorf("cache put: %w", err)
	}
	if len(outputs) > maxCacheOutputs {
		return fmt.Errorf("cache put: %d outputs, at most %d: %w", len(outputs), maxCacheOutputs, ErrTooLarge)
	}
	v := make([]byte, 1, 1+len(outputs)*digestSize)
	v[0] = cacheValueVersion
	for i, o := range outputs {
		d, err := parseDigest(o)
		if err != nil {
			return fmt.Errorf("cache put: outputs[%d]: %w", i, err)
		}
		v = append(v, d[:]...)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		man := tx.Bucket(bucketManifests)
		for i := 1; i < len(v); i += digestSize {
			if man.Get(v[i:i+digestSize]) == nil {
				return fmt.Errorf("output %x: %w", v[i:i+digestSize], ErrNotFound)
			}
		}
		return tx.Bucket(bucketCache).Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("cache put %s: %w", key, err)
	}
	return nil
}

// CacheGet returns the outputs recorded for key. ok is false when there is
// no entry, or when any output artifact no longer exists (the step must
// run again).
func (s *Store) CacheGet(key string) (outputs []string, ok bool, err error) {
	if err := checkID("cache key", key); err != nil {
		return nil, false, fmt.Errorf("cache get: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCache).Get([]byte(key))
		if v == nil {
			return nil
		}
		if len(v) < 1 || v[0] != cacheValueVersion || (len(v)-1)%digestSize != 0 {
			return fmt.Errorf("entry of %d bytes is malformed", len(v))
		}
		man := tx.Bucket(bucketManifests)
		arts := tx.Bucket(bucketArtifacts)
		outs := make([]string, 0, (len(v)-1)/digestSize)
		for i := 1; i < len(v); i += digestSize {
			d := v[i : i+digestSize]
			if man.Get(d) == nil || arts.Get(d) == nil {
				return nil
			}
			outs = append(outs, formatDigest(d))
		}
		outputs, ok = outs, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("cache get %s: %w", key, err)
	}
	return outputs, ok, nil
}

// CacheEntries calls fn with every step cache entry, in key order, as
// recorded (outputs that no longer exist included). It is for copying a
// store (package storecopy).
func (s *Store) CacheEntries(fn func(key string, outputs []string) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCache).ForEach(func(k, v []byte) error {
			if len(v) < 1 || v[0] != cacheValueVersion || (len(v)-1)%digestSize != 0 {
				return fmt.Errorf("cache entry %s of %d bytes is malformed", k, len(v))
			}
			outs := make([]string, 0, (len(v)-1)/digestSize)
			for i := 1; i < len(v); i += digestSize {
				outs = append(outs, formatDigest(v[i:i+digestSize]))
			}
			return fn(string(k), outs)
		})
	})
}
