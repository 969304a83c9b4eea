package orchestrator_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator"
)

// TestRefusedAndAbortedUploadsLeaveNoChunks: an upload over
// MaxUploadBytes and one whose client goes away mid-stream, both past the
// first committed group of chunks (8 MiB), leave no orphan chunk, and the
// store's check finds nothing.
func TestRefusedAndAbortedUploadsLeaveNoChunks(t *testing.T) {
	cfg := orchestrator.Config{DataDir: t.TempDir(), MaxUploadBytes: 12 << 20, IngestAddr: "127.0.0.1:1", PrepAddr: "127.0.0.1:1", TrainAddr: "127.0.0.1:1", EvalAddr: "127.0.0.1:1"}
	srv, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	piece := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB
	send := func(ctx context.Context, n int) (orchestratorv1.OrchestratorService_UploadSourceClient, error) {
		up, err := client.UploadSource(ctx)
		if err != nil {
			return nil, err
		}
		if err := up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "big.csv"}}); err != nil {
			return up, err
		}
		for i := range n {
			// Vary the content so that chunks do not repeat.
			p := bytes.Clone(piece)
			p[0], p[1] = byte(i), byte(i>>8)
			if err := up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: p}}); err != nil {
				return up, err
			}
		}
		return up, nil
	}
	noOrphans := func(what string) {
		t.Helper()
		// The server finishes its side after the client's call returns;
		// wait for its write to end (pins released), bounded.
		deadline := time.Now().Add(30 * time.Second)
		for {
			u, err := srv.Store().Usage()
			if err != nil {
				t.Fatal(err)
			}
			if u.Chunks == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d chunks (%d bytes) left in the store, %d of them orphans", what, u.Chunks, u.Bytes, u.OrphanChunks)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if problems, err := srv.Store().Check(); err != nil || len(problems) != 0 {
			t.Fatalf("%s: check = %q, %v", what, problems, err)
		}
	}

	// 13 MiB against a 12 MiB limit.
	up, _ := send(t.Context(), 13*16)
	if _, err := up.CloseAndRecv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("upload over the limit: %v, want ResourceExhausted", err)
	}
	noOrphans("refused upload")

	// 10 MiB, then the client goes away.
	ctx, cancel := context.WithCancel(t.Context())
	up, err := send(ctx, 10*16)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the server has committed its first group of chunks, so
	// the abort has something to clean up.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		u, err := srv.Store().Usage()
		if err != nil {
			t.Fatal(err)
		}
		if u.Chunks >= 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server committed %d chunks of a 10 MiB upload", u.Chunks)
		}
	}
	cancel()
	// Receive without closing the send side: the server must see the
	// stream reset, not a finished upload.
	if err := up.RecvMsg(new(orchestratorv1.UploadSourceResponse)); status.Code(err) != codes.Canceled {
		t.Fatalf("aborted upload: %v, want Canceled", err)
	}
	noOrphans("aborted upload")
}
