package orchestrator_test

import (
	"context"
	"github.com/alur-ml/alur/services/orchestrator"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/train"
)

// silentStages returns an orchestrator.Config whose stage addresses are a loopback
// listener that never answers: every run blocks in its first step, so
// admitted runs stay pending or running until the orchestrator closes.
// Only train answers, so that StartRun can learn its algorithms.
func silentStages(t *testing.T) orchestrator.Config {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	addr := lis.Addr().String()
	return orchestrator.Config{
		DataDir: t.TempDir(), IngestAddr: addr, PrepAddr: addr, EvalAddr: addr,
		TrainAddr: serveTrain(t, train.NewServer(train.Config{})),
		Logger:    slog.New(slog.DiscardHandler), StageRetryWindow: time.Hour,
	}
}

// TestAdmissionUnderConcurrency fires 50 StartRun calls at once at an
// orchestrator that executes 2 runs and queues 5: at most 7 are accepted,
// and every other call is refused with ResourceExhausted naming
// max_queued_runs. The queue slot used to be counted only after the run
// was written, so a burst was accepted whole.
func TestAdmissionUnderConcurrency(t *testing.T) {
	cfg := silentStages(t)
	cfg.MaxConcurrentRuns, cfg.MaxQueuedRuns = 2, 5
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	const calls = 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
		other    []error
	)
	start := make(chan struct{})
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: irisSpec()})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				accepted++
				return
			}
			if status.Code(err) != codes.ResourceExhausted || !namesQuota(err, "max_queued_runs") {
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if accepted > cfg.MaxConcurrentRuns+cfg.MaxQueuedRuns || accepted < cfg.MaxQueuedRuns {
		t.Errorf("%d of %d runs accepted, want between %d and %d", accepted, calls, cfg.MaxQueuedRuns, cfg.MaxConcurrentRuns+cfg.MaxQueuedRuns)
	}
	for _, err := range other {
		t.Errorf("refusal %v, want ResourceExhausted naming max_queued_runs", err)
	}
}

func namesQuota(err error, limit string) bool {
	for _, d := range status.Convert(err).Details() {
		if q, ok := d.(*errdetails.QuotaFailure); ok {
			for _, v := range q.GetViolations() {
				if v.GetSubject() == limit {
					return true
				}
			}
		}
	}
	return false
}

// TestLongRunID sends a run id over the store's 256-byte key limit to
// every RPC that takes one: each answers InvalidArgument naming run_id,
// not Internal.
func TestLongRunID(t *testing.T) {
	_, client, stop := newTestOrchestrator(t, silentStages(t))
	defer stop()
	id := strings.Repeat("r", 300)
	ctx := context.Background()
	rows := &orchestratorv1.PredictRequest{RunId: id}
	for _, tc := range []struct {
		rpc  string
		call func() error
	}{
		{"GetRun", func() error { _, err := client.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id}); return err }},
		{"CancelRun", func() error {
			_, err := client.CancelRun(ctx, &orchestratorv1.CancelRunRequest{RunId: id})
			return err
		}},
		{"ListArtifacts", func() error {
			_, err := client.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{RunId: id})
			return err
		}},
		{"Predict", func() error { _, err := client.Predict(ctx, rows); return err }},
		{"RetrainRun", func() error {
			_, err := client.RetrainRun(ctx, &orchestratorv1.RetrainRunRequest{RunId: id})
			return err
		}},
		{"WatchRun", func() error {
			stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
			if err != nil {
				return err
			}
			_, err = stream.Recv()
			return err
		}},
	} {
		err := tc.call()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", tc.rpc, err)
			continue
		}
		if v := serverkit.FieldViolations(err); len(v) != 1 || v[0] != "run_id" {
			t.Errorf("%s: field violations %v, want [run_id]", tc.rpc, v)
		}
	}
}
