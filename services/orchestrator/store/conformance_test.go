package store_test

import (
	"path/filepath"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/storetest"
)

// TestConformance runs the shared backend suite over the bbolt store.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Backend {
			st, err := store.Open(filepath.Join(t.TempDir(), "alur.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	})
}
