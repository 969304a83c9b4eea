package etcdstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
	"github.com/alur-ml/alur/services/orchestrator/store/storetest"
)

// TestConformanceS3 runs the shared backend suite over etcd and an S3
// bucket (the s3server test server): content damaged in the bucket is
// reported as corrupt, as in a directory.
func TestConformanceS3(t *testing.T) {
	srv := etcdtest.Start(t)
	s3 := s3test.Start(t)
	cli := srv.Client(t)
	var n atomic.Int64
	prefixes := map[store.Backend]string{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Backend {
			i := n.Add(1)
			prefix := fmt.Sprintf("conformance-%d", i)
			bs, err := blob.Open(s3.URL(prefix))
			if err != nil {
				t.Fatal(err)
			}
			st := etcdstore.New(cli, fmt.Sprintf("/conformance-s3/%d", i), bs)
			prefixes[st] = prefix
			return st
		},
		Corrupt: func(t *testing.T, b store.Backend, digest string) {
			key := prefixes[b] + "/sha256/" + digest[:2] + "/" + digest
			raw := s3.Get(t, key)
			raw[0] ^= 1
			s3.Put(t, key, raw)
		},
	})
}
