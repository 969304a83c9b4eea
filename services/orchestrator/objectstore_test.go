package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/blob/s3test"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestRunOnS3Blobs runs a pipeline with the state in etcd and the
// artifacts in an S3 bucket, then downloads the model from a second
// orchestrator: its bytes come back from the bucket, verified.
func TestRunOnS3Blobs(t *testing.T) {
	etcd := etcdtest.Start(t)
	s3 := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "alur-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "alur-test-secret")
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/s3run"
	cfg.Blobs = s3.URL("s3run")
	_, client, stop := haServe(t, cfg)
	defer stop()
	ctx := context.Background()
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: haIris(&orchestratorv1.Candidate{Algorithm: "logistic_regression"})})
	if err != nil {
		t.Fatal(err)
	}
	run := haAwait(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("state %v: %s", run.GetState(), run.GetError())
	}
	_, other, stop2 := haServe(t, cfg)
	defer stop2()
	stream, err := other.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: run.GetModelDigest()})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("download the model: %v", err)
		}
		n += len(m.GetChunk())
	}
	if n == 0 {
		t.Fatal("the model downloaded empty")
	}
}

// TestObjectStoreOutage stops the S3 server under a run and keeps it
// down through three retries: the run does not fail but pauses, retrying
// on UNAVAILABLE (STEP_RETRIED events naming the store), and once the
// server is back it finishes. The outage lands in the middle of the run
// (right after its first artifact is stored), or before it starts, when
// the collect step must stream its uploaded source from the store to
// ingest.
func TestObjectStoreOutage(t *testing.T) {
	etcd := etcdtest.Start(t)
	s3 := s3test.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/outage"
	cfg.Blobs = s3.URL("outage")
	// A short store-level retry, so the outage reaches the engine, whose
	// step retries (for the default two minutes) are visible as events.
	cfg.BlobRetryWindow = 300 * time.Millisecond
	_, client, stop := haServe(t, cfg)
	defer stop()
	var csv strings.Builder
	csv.WriteString("x1,x2,label\n")
	for i := range 60 {
		fmt.Fprintf(&csv, "%d,%d,%s\n", i, (i*7)%13, []string{"a", "b"}[i%2])
	}
	uploaded := upload(t, client, "outage.csv", csv.String())
	for _, tc := range []struct {
		name   string
		spec   *orchestratorv1.PipelineSpec
		outage func() // cuts the store off
	}{
		{"mid-run", haIris(&orchestratorv1.Candidate{Algorithm: "logistic_regression"}), func() { s3.StopAfterPuts(1) }},
		{"upload source", &orchestratorv1.PipelineSpec{
			Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: uploaded}},
			Label:  "label", Seed: 7,
			Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
		}, s3.Stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			refusedBefore := s3.Refused()
			tc.outage()
			start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			id := start.GetRun().GetId()
			watch, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
			if err != nil {
				t.Fatal(err)
			}
			// The server stays down through several retries: the run
			// waits.
			const outageRetries = 3
			var firstRetry time.Time
			retries := 0
			for {
				m, err := watch.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("watch: %v", err)
				}
				ev := m.GetEvent()
				if ev.GetKind() != orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED {
					continue
				}
				if !strings.Contains(ev.GetMessage(), "unavailable") {
					t.Errorf("retry event %q does not say the store is unavailable", ev.GetMessage())
				}
				if retries == 0 {
					firstRetry = time.Now()
				}
				retries++
				if retries == outageRetries {
					s3.Restart(t) // the outage ends
					t.Logf("store back %s after the first retry", time.Since(firstRetry).Round(time.Millisecond))
				}
			}
			resp, err := client.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
			if err != nil {
				t.Fatal(err)
			}
			if run := resp.GetRun(); run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
				t.Fatalf("state %v after the outage: %s", run.GetState(), run.GetError())
			}
			refused := s3.Refused() - refusedBefore
			if retries < outageRetries || refused == 0 {
				t.Fatalf("%d retry events, %d requests refused: the outage did not reach the run", retries, refused)
			}
			t.Logf("%d retries, %d requests refused during the outage", retries, refused)
		})
	}
}

// TestObjectStoreOutageStatus asks for content while the S3 server is
// stopped: a download and an upload (which cannot be replayed) answer
// UNAVAILABLE, the code clients retry, not DATA_LOSS or INTERNAL.
func TestObjectStoreOutageStatus(t *testing.T) {
	etcd := etcdtest.Start(t)
	s3 := s3test.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/outagestatus"
	cfg.Blobs = s3.URL("outagestatus")
	cfg.BlobRetryWindow = 300 * time.Millisecond
	_, client, stop := haServe(t, cfg)
	defer stop()
	ctx := context.Background()
	digest := upload(t, client, "before.csv", "x,label\n1,a\n2,b\n")
	s3.Stop()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"GetArtifact", func() error {
			stream, err := client.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: digest})
			for err == nil {
				_, err = stream.Recv()
			}
			return err
		}},
		{"UploadSource", func() error {
			up, err := client.UploadSource(ctx)
			if err != nil {
				return err
			}
			_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "during.csv"}})
			_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: []byte("x,label\n3,a\n")}})
			_, err = up.CloseAndRecv()
			return err
		}},
	} {
		if err := tc.call(); status.Code(err) != codes.Unavailable {
			t.Errorf("%s while the object store is stopped: %v, want UNAVAILABLE", tc.name, err)
		}
	}
}
