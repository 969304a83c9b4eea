package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/blob/blobtest"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
)

// TestS3Outage stops the S3 server: every call fails with ErrUnavailable
// (what the store retries and the engine pauses on), never ErrNotFound or
// ErrCorrupt (which would fail runs for good); after a restart the
// content written before is all there.
func TestS3Outage(t *testing.T) {
	srv := s3test.Start(t)
	s, err := blob.Open(srv.URL("outage"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := []byte("written before the outage")
	d, _, err := s.Write(ctx, bytes.NewReader(before), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Write", func() error { _, _, err := s.Write(ctx, bytes.NewReader([]byte("during")), 1<<20); return err }},
		{"Open", func() error {
			rc, err := s.Open(ctx, d)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, d) }},
		{"Walk", func() error { return s.Walk(ctx, func(blob.Info) error { return nil }) }},
	} {
		err := tc.call()
		if !errors.Is(err, blob.ErrUnavailable) || errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("%s while the server is stopped: %v, want ErrUnavailable alone", tc.name, err)
		}
	}
	if srv.Refused() == 0 {
		t.Fatal("no call reached the stopped server")
	}
	srv.Restart(t)
	rc, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open after the restart: %v", err)
	}
	back, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(back, before) {
		t.Fatalf("content after the restart: %q, %v", back, err)
	}
	after := []byte("written after the outage")
	if got, _, err := s.Write(ctx, bytes.NewReader(after), 1<<20); err != nil || got != blobtest.Digest(after) {
		t.Fatalf("Write after the restart: %s, %v", got, err)
	}
}
