package orchestrator_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator"
)

func TestOpenStoreSpecs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		spec, blobs, dataDir string
		wantErr              string // "" means it opens
	}{
		{"", "", dir, ""},
		{"bbolt:" + filepath.Join(dir, "other.db"), "", "", ""},
		{"", "", "", "data directory"},
		{"bbolt:", "", "", "want bbolt:PATH"},
		{"bbolt:" + filepath.Join(dir, "x.db"), "file://" + dir, "", "blobs apply to an etcd store"},
		{"etcd://127.0.0.1:2379/alur", "", "", "blob store"},
		{"etcd://127.0.0.1:2379/alur", "s4://bucket", "", "not supported"},
		{"etcd://127.0.0.1:2379/alur", "s3://bucket?secret=x", "", "not supported"},
		{"etcd://127.0.0.1:2379/alur", "s3://bucket?endpoint=127.0.0.1:9000", "", "endpoint"},
		{"bbolt:" + filepath.Join(dir, "y.db"), "s3://bucket", "", "blobs apply to an etcd store"},
		{"etcd:///alur", "file://" + dir, "", "want etcd://"},
		{"postgres://x", "", "", "want bbolt:PATH or etcd://"},
	} {
		st, err := orchestrator.OpenStore(tc.spec, tc.blobs, tc.dataDir)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("OpenStore(%q, %q): %v", tc.spec, tc.blobs, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("OpenStore(%q, %q) error %v, want one saying %q", tc.spec, tc.blobs, err, tc.wantErr)
		}
		if st != nil {
			_ = st.Close()
		}
	}
}
