package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

// fakeOrchestrator is a scripted OrchestratorService for testing the CLI
// over real gRPC: it records what the CLI sends and answers with a
// hand-made run and events.
type fakeOrchestrator struct {
	orchestratorv1.UnimplementedOrchestratorServiceServer

	mu sync.Mutex
	// final is the run GetRun returns (its spec is replaced by the one
	// started).
	final *orchestratorv1.Run
	// events are what WatchRun streams.
	events []*orchestratorv1.RunEvent
	// breakWatchAfter, when > 0, makes the first WatchRun fail with
	// Unavailable after that many events.
	breakWatchAfter int
	// startErr, when set, is StartRun's answer.
	startErr error
	// runs is what ListRuns pages through.
	runs []*orchestratorv1.Run

	// Recorded calls.
	uploadName   string
	uploadChunks []int
	uploaded     []byte
	started      *orchestratorv1.PipelineSpec
	watchCalls   int
	predictRows  int
	predictCalls int
	pageSizes    []int32
}

func (f *fakeOrchestrator) UploadSource(stream orchestratorv1.OrchestratorService_UploadSourceServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	name := first.GetName()
	if name == "" {
		return serverkit.InvalidArgument("name", "the first message must be the name")
	}
	var data bytes.Buffer
	var chunks []int
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		chunks = append(chunks, len(req.GetChunk()))
		data.Write(req.GetChunk())
	}
	sum := sha256.Sum256(data.Bytes())
	f.mu.Lock()
	f.uploadName, f.uploadChunks, f.uploaded = name, chunks, data.Bytes()
	f.mu.Unlock()
	return stream.SendAndClose(&orchestratorv1.UploadSourceResponse{Artifact: &orchestratorv1.Artifact{
		Digest: hex.EncodeToString(sum[:]), Kind: "source", Size: int64(data.Len()), Name: name,
	}})
}

func (f *fakeOrchestrator) StartRun(_ context.Context, req *orchestratorv1.StartRunRequest) (*orchestratorv1.StartRunResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.started = req.GetSpec()
	return &orchestratorv1.StartRunResponse{Run: &orchestratorv1.Run{
		Id: f.final.GetId(), Spec: req.GetSpec(), State: orchestratorv1.RunState_RUN_STATE_PENDING,
		CreateTime: f.final.GetCreateTime(), Metric: f.final.GetMetric(),
	}}, nil
}

func (f *fakeOrchestrator) GetRun(_ context.Context, req *orchestratorv1.GetRunRequest) (*orchestratorv1.GetRunResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.GetRunId() != f.final.GetId() {
		return nil, status.Errorf(codes.NotFound, "run %q not found", req.GetRunId())
	}
	run := proto.Clone(f.final).(*orchestratorv1.Run)
	if f.started != nil {
		run.Spec = f.started
	}
	return &orchestratorv1.GetRunResponse{Run: run}, nil
}

func (f *fakeOrchestrator) WatchRun(req *orchestratorv1.WatchRunRequest, stream orchestratorv1.OrchestratorService_WatchRunServer) error {
	f.mu.Lock()
	f.watchCalls++
	broken := f.breakWatchAfter > 0 && f.watchCalls == 1
	events := f.events
	f.mu.Unlock()
	if req.GetRunId() != f.final.GetId() {
		return status.Errorf(codes.NotFound, "run %q not found", req.GetRunId())
	}
	for i, ev := range events {
		if broken && i == f.breakWatchAfter {
			return status.Error(codes.Unavailable, "orchestrator restarting")
		}
		if err := stream.Send(&orchestratorv1.WatchRunResponse{Event: ev}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeOrchestrator) ListRuns(_ context.Context, req *orchestratorv1.ListRunsRequest) (*orchestratorv1.ListRunsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageSizes = append(f.pageSizes, req.GetPageSize())
	start := 0
	if req.GetPageToken() != "" {
		var err error
		if start, err = strconv.Atoi(req.GetPageToken()); err != nil {
			return nil, serverkit.InvalidArgument("page_token", "not a token")
		}
	}
	size := int(req.GetPageSize())
	// Serve small pages so that the CLI has to follow tokens.
	size = min(size, 2)
	end := min(start+size, len(f.runs))
	resp := &orchestratorv1.ListRunsResponse{Runs: f.runs[start:end]}
	if end < len(f.runs) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

func (f *fakeOrchestrator) ListArtifacts(_ context.Context, req *orchestratorv1.ListArtifactsRequest) (*orchestratorv1.ListArtifactsResponse, error) {
	return &orchestratorv1.ListArtifactsResponse{Artifacts: []*orchestratorv1.Artifact{
		{Digest: f.final.GetDatasetDigest(), Kind: "dataset", Size: 4096, RunId: req.GetRunId(), Step: "collect"},
	}}, nil
}

func (f *fakeOrchestrator) Predict(_ context.Context, req *orchestratorv1.PredictRequest) (*orchestratorv1.PredictResponse, error) {
	if req.GetRunId() != f.final.GetId() {
		return nil, status.Errorf(codes.NotFound, "run %q not found", req.GetRunId())
	}
	f.mu.Lock()
	f.predictCalls++
	f.predictRows += len(req.GetRows().GetRows())
	f.mu.Unlock()
	resp := &orchestratorv1.PredictResponse{ClassNames: []string{"no", "yes"}}
	for i := range req.GetRows().GetRows() {
		p := float64(i%10) / 10
		label := "no"
		if p > 0.5 {
			label = "yes"
		}
		resp.Predictions = append(resp.Predictions, &evalv1.Prediction{Label: label, Probabilities: []float64{1 - p, p}})
	}
	return resp, nil
}

// startFake serves f on a loopback port for the test's lifetime and
// returns its address.
func startFake(t *testing.T, f *fakeOrchestrator) string {
	t.Helper()
	return startFakeServer(t, f)
}

// startFakeServer serves any OrchestratorService implementation, such as
// a fakeOrchestrator extended with more RPCs, like startFake.
func startFakeServer(t *testing.T, f orchestratorv1.OrchestratorServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
	orchestratorv1.RegisterOrchestratorServiceServer(srv.GRPC, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fake orchestrator: %v", err)
		}
	})
	return lis.Addr().String()
}

// newFake returns a fake whose run succeeds like handRun, with the events
// of a short run.
func newFake() *fakeOrchestrator {
	run := handRun()
	var events []*orchestratorv1.RunEvent
	add := func(step, msg string, trial *orchestratorv1.Trial, state orchestratorv1.RunState) {
		events = append(events, &orchestratorv1.RunEvent{
			Sequence: int64(len(events) + 1), Time: ts(0), Step: step, Message: msg, Trial: trial, RunState: state,
		})
	}
	running := orchestratorv1.RunState_RUN_STATE_RUNNING
	add("collect", "collected 150 rows", nil, running)
	add("profile", "profiled 5 columns", nil, running)
	add("prepare", "prepared 90/30/30 rows", nil, running)
	for _, tr := range run.GetTrials() {
		// A fold's step, which the CLI shows only with -v.
		fold := fmt.Sprintf("train/%d/fold1", tr.GetNumber())
		events = append(events, &orchestratorv1.RunEvent{Sequence: int64(len(events) + 1), Time: ts(0), Step: fold,
			Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED, Message: fold + ": done in 5ms", RunState: running})
		add(fmt.Sprintf("evaluate/%d", tr.GetNumber()), "", tr, running)
	}
	add("test", "tested trial 2", nil, running)
	add("", "run succeeded", nil, orchestratorv1.RunState_RUN_STATE_SUCCEEDED)
	return &fakeOrchestrator{final: run, events: events, runs: []*orchestratorv1.Run{run, run, run, run, run}}
}

// newTestApp returns an app writing to buffers, with env as its
// environment.
func newTestApp(env map[string]string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &app{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}, &out, &errb
}
