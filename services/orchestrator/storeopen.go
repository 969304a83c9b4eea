package orchestrator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
)

// OpenStore opens the backend spec names:
//
//	""                 the bbolt file DBFile in dataDir (created if missing)
//	bbolt:PATH         a bbolt file: one orchestrator, zero infrastructure
//	etcd://h:p[,h:p]/prefix
//	                   metadata in etcd under prefix, artifact content in
//	                   the blob store blobs names: several orchestrators
//	                   may share it. blobs is file:///dir (a shared
//	                   volume) or s3://bucket[/prefix]?endpoint=URL&region=R
//	                   (an S3-compatible object store; credentials from
//	                   AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or
//	                   credentials_file=PATH; see blob.OpenS3)
//	etcd+unix:///socket?prefix=/p
//	                   the same on an etcd member's unix socket
func OpenStore(spec, blobs, dataDir string) (store.Backend, error) {
	switch {
	case spec == "":
		if dataDir == "" {
			return nil, errors.New("a data directory (or a store) is required")
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		return openBolt(filepath.Join(dataDir, DBFile), blobs)
	case strings.HasPrefix(spec, "bbolt:"):
		path := strings.TrimPrefix(spec, "bbolt:")
		if path == "" {
			return nil, fmt.Errorf("store %q: want bbolt:PATH", spec)
		}
		return openBolt(path, blobs)
	case strings.HasPrefix(spec, "etcd://"), strings.HasPrefix(spec, "etcd+unix://"):
		if blobs == "" {
			return nil, fmt.Errorf("store %q: an etcd store keeps artifact content in a blob store: give its URL (file:///dir or s3://bucket?endpoint=URL)", spec)
		}
		bs, err := blob.Open(blobs)
		if err != nil {
			return nil, err
		}
		st, err := etcdstore.Open(spec, bs)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return st, nil
	default:
		return nil, fmt.Errorf("store %q: want bbolt:PATH or etcd://host:port/prefix", spec)
	}
}

// openBolt opens a bbolt store, which keeps content in its own file.
func openBolt(path, blobs string) (store.Backend, error) {
	if blobs != "" {
		return nil, fmt.Errorf("blob store %q: a bbolt store keeps artifact content in its file; blobs apply to an etcd store", blobs)
	}
	st, err := store.Open(path)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return st, nil
}
