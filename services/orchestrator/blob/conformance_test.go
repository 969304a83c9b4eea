package blob_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/blob/blobtest"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
)

func TestConformance(t *testing.T) {
	t.Run("Dir", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) blobtest.Harness {
			root := t.TempDir()
			d, err := blob.NewDir(root)
			if err != nil {
				t.Fatal(err)
			}
			return blobtest.Harness{Store: d, Replace: func(t *testing.T, digest string, content []byte) {
				if err := os.WriteFile(filepath.Join(root, "sha256", digest[:2], digest), content, 0o600); err != nil {
					t.Fatal(err)
				}
			}}
		})
	})
	t.Run("S3", func(t *testing.T) {
		srv := s3test.Start(t)
		// Signed requests, as in production (the server checks no
		// signature, but the client signs differently with keys).
		t.Setenv("AWS_ACCESS_KEY_ID", "alur-test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "alur-test-secret")
		unsafe := regexp.MustCompile(`[^A-Za-z0-9]+`)
		blobtest.Run(t, func(t *testing.T) blobtest.Harness {
			// One server, a key prefix per case: each case sees an
			// empty store.
			prefix := unsafe.ReplaceAllString(t.Name(), "-")
			s, err := blob.Open(srv.URL(prefix))
			if err != nil {
				t.Fatal(err)
			}
			return blobtest.Harness{Store: s, Replace: func(t *testing.T, digest string, content []byte) {
				srv.Put(t, prefix+"/sha256/"+digest[:2]+"/"+digest, content)
			}}
		})
	})
}
