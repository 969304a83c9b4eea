package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// synthCSV returns a CSV file of n rows: six numeric features (one with
// missing values), a categorical column and a three-class label drawn
// from a noisy linear rule, so that models have something to learn and
// training takes measurable time. The same n and seed give the same
// bytes.
func synthCSV(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	colors := []string{"red", "green", "blue", "amber"}
	var b bytes.Buffer
	b.WriteString("f1,f2,f3,f4,f5,f6,color,label\n")
	for range n {
		var f [6]float64
		for j := range f {
			f[j] = rng.NormFloat64()
		}
		color := rng.IntN(len(colors))
		score := f[0] + 0.8*f[1] - 0.6*f[2] + 0.3*float64(color) + 0.5*rng.NormFloat64()
		label := "low"
		switch {
		case score > 0.7:
			label = "high"
		case score > -0.4:
			label = "mid"
		}
		for j, v := range f {
			if j == 5 && rng.IntN(20) == 0 {
				b.WriteString(",")
				continue
			}
			fmt.Fprintf(&b, "%.4f,", v)
		}
		fmt.Fprintf(&b, "%s,%s\n", colors[color], label)
	}
	return b.Bytes()
}

// upload stores data on the orchestrator with UploadSource and returns
// its digest, for specs with an upload source.
func upload(t *testing.T, client orchestratorv1.OrchestratorServiceClient, name string, data []byte) string {
	t.Helper()
	a, err := uploadBytes(client, name, data)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return a.GetDigest()
}

// uploadBytes streams data to UploadSource in 64 KiB chunks.
func uploadBytes(client orchestratorv1.OrchestratorServiceClient, name string, data []byte) (*orchestratorv1.Artifact, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := client.UploadSource(ctx, grpc.WaitForReady(true))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: name}}); err != nil {
		_, rerr := stream.CloseAndRecv()
		return nil, rerr
	}
	for off := 0; off < len(data); off += 64 << 10 {
		chunk := data[off:min(off+64<<10, len(data))]
		if err := stream.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: chunk}}); err != nil {
			break // the server answered early; CloseAndRecv has its status
		}
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetArtifact(), err
}

func uploadSource(digest string) *orchestratorv1.Source {
	return &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: digest}}
}

func irisSource() *orchestratorv1.Source {
	return &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}
}

// severalTrials is a spec of six small trials on an uploaded synthCSV; the
// seed changes the split, so runs with different seeds share only their
// collect and profile steps.
// singleTrials are the run's trials but the ensemble of them, which a
// cross-validated run adds when it ranks first.
func singleTrials(run *orchestratorv1.Run) []*orchestratorv1.Trial {
	var out []*orchestratorv1.Trial
	for _, tr := range run.GetTrials() {
		if tr.GetAlgorithm() != "ensemble" {
			out = append(out, tr)
		}
	}
	return out
}

func severalTrials(digest string, seed int64) *orchestratorv1.PipelineSpec {
	return &orchestratorv1.PipelineSpec{
		Name:   fmt.Sprintf("reliability-%d", seed),
		Source: uploadSource(digest),
		Label:  "label",
		Candidates: []*orchestratorv1.Candidate{
			{Algorithm: "logistic_regression"},
			{Algorithm: "decision_tree", Params: map[string]float64{"max_depth": 8}},
			{Algorithm: "knn", Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{5, 15}}}},
			{Algorithm: "naive_bayes"},
			{Algorithm: "random_forest", Params: map[string]float64{"n_estimators": 25}},
		},
		Seed: seed,
	}
}

func startRun(t *testing.T, client orchestratorv1.OrchestratorServiceClient, spec *orchestratorv1.PipelineSpec) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("start run %s: %v", spec.GetName(), err)
	}
	return resp.GetRun().GetId()
}

// learnAlgorithms has the orchestrator ask train for its algorithms, by
// starting a spec with an algorithm train does not serve: the refusal
// lists train's algorithms.
func learnAlgorithms(t *testing.T, client orchestratorv1.OrchestratorServiceClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species",
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "no_such_algorithm"}},
	}
	_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec}, grpc.WaitForReady(true))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "random_forest") {
		t.Fatalf("StartRun with an unknown algorithm: %v; want InvalidArgument listing train's algorithms", err)
	}
}

func getRun(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string) *orchestratorv1.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("get run %s: %v", id, err)
	}
	return resp.GetRun()
}

// checkStore opens the orchestrator's bbolt file (the orchestrator must
// be stopped), runs the store's full check (bbolt's page check, index
// agreement, every chunk re-hashed), reads every artifact back, which
// verifies its digest, and checks that each of the runs named by runIDs
// is stored with every step output it records. It returns the number of
// artifacts.
func checkStore(t *testing.T, dataDir string, runIDs ...string) int {
	t.Helper()
	bboltCheck(t, filepath.Join(dataDir, orchestrator.DBFile))
	st, err := store.Open(filepath.Join(dataDir, orchestrator.DBFile))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	problems, err := st.Check()
	if err != nil {
		t.Fatalf("store check: %v", err)
	}
	for _, p := range problems {
		t.Errorf("store check: %s", p)
	}
	arts, err := st.ListArtifacts("")
	if err != nil {
		t.Fatalf("list artifacts: %v", err)
	}
	have := make(map[string]bool, len(arts))
	for _, a := range arts {
		have[a.GetDigest()] = true
		b, err := st.ReadArtifact(a.GetDigest())
		if err != nil {
			t.Errorf("artifact %s (%s of run %s): %v", a.GetDigest(), a.GetKind(), a.GetRunId(), err)
			continue
		}
		if int64(len(b)) != a.GetSize() {
			t.Errorf("artifact %s: read %d bytes, metadata says %d", a.GetDigest(), len(b), a.GetSize())
		}
	}
	for _, id := range runIDs {
		run, err := st.GetRun(id)
		if err != nil {
			t.Errorf("run %s: %v", id, err)
			continue
		}
		for _, step := range run.GetSteps() {
			for _, d := range step.GetOutputDigests() {
				if !have[d] {
					t.Errorf("run %s step %s names artifact %s, which the store lacks", id, step.GetName(), d)
				}
			}
		}
	}
	return len(arts)
}

// resumeAudit reads a run's event log and checks that resuming after a
// restart re-executed no step that had already finished.
type resumeAudit struct {
	resumes   int      // restarts the run went through unfinished
	reused    int      // finished steps carried over a restart, not run again
	reexecute []string // finished steps that were started again: bugs
}

// stepStarted reports whether ev is the start of the named step.
// stepStarted reports whether ev starts the step, or one of its
// cross-validation folds ("train/1/fold2" belongs to "train/1").
func stepStarted(ev *orchestratorv1.RunEvent, step string) bool {
	return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED && inStep(ev.GetStep(), step)
}

// inStep reports whether a step name is the step or one of its folds.
func inStep(name, step string) bool {
	return name == step || strings.HasPrefix(name, step+"/fold")
}

func auditResumes(events []*orchestratorv1.RunEvent) resumeAudit {
	var a resumeAudit
	finished := map[string]bool{}
	carried := map[string]bool{}
	for _, ev := range events {
		step := ev.GetStep()
		switch ev.GetKind() {
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED:
			a.resumes++
			for s := range finished {
				carried[s] = true
			}
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED:
			if finished[step] {
				a.reexecute = append(a.reexecute, step)
			}
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_CACHED:
			finished[step] = true
		}
	}
	a.reused = len(carried)
	return a
}

// TestCrashResume kills the orchestrator with SIGKILL 20 times, each time
// 50-400 ms after starting a run of several trials, checks the bbolt file
// after every crash, and then lets every run finish: each must succeed,
// resume without re-running finished steps, and leave only verifiable
// artifacts.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the orchestrator 20 times")
	}
	const cycles = 20
	c := startCluster(t, nil)
	digest := upload(t, c.client, "synth.csv", synthCSV(1500, 1))
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	orch := c.procs["orchestrator"]

	var ids []string
	var delays []time.Duration
	for i := 1; i <= cycles; i++ {
		ids = append(ids, startRun(t, c.client, severalTrials(digest, int64(i))))
		delay := time.Duration(50+rng.IntN(351)) * time.Millisecond
		delays = append(delays, delay)
		time.Sleep(delay)
		orch.kill(t)
		checkStore(t, c.dataDir, ids...)
		c.restartOrchestrator(t, nil)
	}
	t.Logf("%d kill -9 cycles survived; delays %v", cycles, delays)

	var resumes, reused, cacheHits, steps int
	for _, id := range ids {
		run := waitRun(t, c.client, id)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run %s (%s): %s: %s", id, run.GetSpec().GetName(), run.GetState(), run.GetError())
			continue
		}
		// Six candidates, and the ensemble of their cross-validated
		// predictions when it scores higher than each.
		singles := len(singleTrials(run))
		if singles != 6 || len(run.GetTrials()) > 7 || run.GetModelDigest() == "" || run.GetTestMetrics() == nil {
			t.Errorf("run %s: %d trials, model %q, test metrics %v; want 6 trials (and an ensemble) and a scored model", id, len(run.GetTrials()), run.GetModelDigest(), run.GetTestMetrics())
		}
		for _, tr := range run.GetTrials() {
			if tr.GetError() != "" {
				t.Errorf("run %s trial %d: %s", id, tr.GetNumber(), tr.GetError())
			}
		}
		for _, st := range run.GetSteps() {
			steps++
			if st.GetCacheHit() {
				cacheHits++
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		a := auditResumes(runEvents(t, ctx, c.client, id))
		cancel()
		if len(a.reexecute) > 0 {
			t.Errorf("run %s: finished steps %v ran again after a restart", id, a.reexecute)
		}
		resumes += a.resumes
		reused += a.reused
	}
	t.Logf("runs %d, resumes %d, finished steps reused across restarts %d, cache hits %d of %d steps", len(ids), resumes, reused, cacheHits, steps)
	if resumes == 0 || reused == 0 {
		t.Errorf("no run resumed with finished steps (resumes %d, reused %d): the kills missed every run", resumes, reused)
	}
	if cacheHits == 0 {
		t.Error("no step was a cache hit; runs with one source share collect and profile")
	}

	// A resumed run scores like one never interrupted: the first run's
	// spec on a fresh orchestrator (nothing cached) gives equal metrics.
	first := getRun(t, c.client, ids[0])
	fresh := startProc(t, "orchestrator", anyPort, orchestratorArgs(t.TempDir(), c.addrs)...)
	fconn := dialT(t, fresh.addr)
	fclient := orchestratorv1.NewOrchestratorServiceClient(fconn)
	again := waitRun(t, fclient, startRun(t, fclient, severalTrials(upload(t, fclient, "synth.csv", synthCSV(1500, 1)), 1)))
	if !proto.Equal(again.GetTestMetrics(), first.GetTestMetrics()) {
		t.Errorf("the crashed and resumed run scored %v; uninterrupted %v", first.GetTestMetrics(), again.GetTestMetrics())
	}

	orch.stop(t)
	n := checkStore(t, c.dataDir, ids...)
	t.Logf("store check clean; %d artifacts verified, every step output of the %d runs present; nothing lost", n, len(ids))
	// Crashes are not errors: the orchestrator's 21 lives logged none.
	for _, l := range orch.log.lines("level=ERROR") {
		t.Errorf("orchestrator logged an error: %s", l)
	}
}

func dialT(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := serverkit.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestStageOutage stops the train service in the middle of a run. While
// the outage is shorter than --stage-retry-window the step retries and the
// run succeeds once train is back; when it is longer the run fails saying
// why, and the orchestrator stays healthy.
func TestStageOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and restarts the train service")
	}
	c := startCluster(t, map[string][]string{"orchestrator": {"--stage-retry-window", "30s"}})
	train := c.procs["train"]
	digest := upload(t, c.client, "synth.csv", synthCSV(1500, 2))

	t.Run("train comes back", func(t *testing.T) {
		id := startRun(t, c.client, severalTrials(digest, 101))
		waitEvent(t, c.client, id, func(ev *orchestratorv1.RunEvent) bool { return stepStarted(ev, "train/1") })
		train.kill(t)
		down := time.Now()
		retry := waitEvent(t, c.client, id, func(ev *orchestratorv1.RunEvent) bool {
			return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED
		})
		time.Sleep(300 * time.Millisecond)
		train.restart(t, nil)
		outage := time.Since(down)
		run := waitRun(t, c.client, id)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run %s: %s", run.GetState(), run.GetError())
		}
		for _, tr := range run.GetTrials() {
			if tr.GetError() != "" {
				t.Errorf("trial %d: %s", tr.GetNumber(), tr.GetError())
			}
		}
		t.Logf("train down %v; the orchestrator retried (%q) and the run succeeded with %d trials", outage.Round(time.Millisecond), retry.GetMessage(), len(run.GetTrials()))
	})

	t.Run("train stays down", func(t *testing.T) {
		c.procs["orchestrator"].stop(t)
		c.restartOrchestrator(t, []string{"--stage-retry-window", "2s"})
		// StartRun validates the spec against the algorithms train
		// serves; a spec naming none of them learns them while train is
		// up, and the orchestrator keeps them through the outage.
		learnAlgorithms(t, c.client)
		train.kill(t)
		start := time.Now()
		id := startRun(t, c.client, severalTrials(digest, 102))
		run := waitRun(t, c.client, id)
		took := time.Since(start)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_FAILED ||
			!strings.Contains(run.GetError(), "Unavailable") || !strings.Contains(run.GetError(), "still unavailable after") {
			t.Fatalf("run %s with error %q; want failed, naming the unavailable stage and the retries", run.GetState(), run.GetError())
		}
		if !healthy(c.conn) {
			t.Fatal("the orchestrator is not healthy after the failed run")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.client.ListRuns(ctx, &orchestratorv1.ListRunsRequest{}); err != nil {
			t.Fatalf("ListRuns after the outage: %v", err)
		}
		t.Logf("train down for good: the run failed after %v: %s", took.Round(time.Millisecond), run.GetError())

		// Train back: the same spec now succeeds, reusing the steps
		// before training from the cache.
		train.restart(t, nil)
		run = waitRun(t, c.client, startRun(t, c.client, severalTrials(digest, 102)))
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run after train came back: %s: %s", run.GetState(), run.GetError())
		}
	})
}

// TestCancel starts a long random forest (5000 trees on a few thousand
// rows), cancels the run, and checks that the cancellation crosses into
// the train service: its Train call ends with code Canceled and its CPU
// goes idle.
func TestCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a large forest")
	}
	c := startCluster(t, nil)
	train := c.procs["train"]
	digest := upload(t, c.client, "synth.csv", synthCSV(4000, 3))
	id := startRun(t, c.client, &orchestratorv1.PipelineSpec{
		Source:     uploadSource(digest),
		Label:      "label",
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "random_forest", Params: map[string]float64{"n_estimators": 5000}}},
	})
	waitEvent(t, c.client, id, func(ev *orchestratorv1.RunEvent) bool { return stepStarted(ev, "train/1") })
	// Let the forest get going: a progress event comes after a second.
	waitEvent(t, c.client, id, func(ev *orchestratorv1.RunEvent) bool {
		return inStep(ev.GetStep(), "train/1") && ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS
	})
	busy0 := train.cpuTime(t)
	time.Sleep(500 * time.Millisecond)
	busy := train.cpuTime(t) - busy0

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	resp, err := c.client.CancelRun(ctx, &orchestratorv1.CancelRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	rpc := time.Since(t0)
	// Train's standard gRPC server metrics count the Train call that ended
	// Canceled: the cancellation reached the stage, not only the run.
	canceled := map[string]string{"grpc_method": "Train", "grpc_code": "Canceled"}
	for time.Since(t0) < 30*time.Second && train.counter(t, "grpc_server_handled_total", canceled) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	latency := time.Since(t0)
	if train.counter(t, "grpc_server_handled_total", canceled) == 0 {
		t.Fatalf("train's Train call did not end Canceled within 30s of CancelRun:\n%s", train.log)
	}
	if st := resp.GetRun().GetState(); st != orchestratorv1.RunState_RUN_STATE_CANCELLED {
		t.Errorf("CancelRun answered a %s run", st)
	}
	if run := getRun(t, c.client, id); run.GetState() != orchestratorv1.RunState_RUN_STATE_CANCELLED {
		t.Errorf("run is %s after CancelRun, want CANCELLED", run.GetState())
	}
	// Idle means the trees stopped growing: compare a second of CPU time
	// after the cancellation with half a second before it.
	time.Sleep(200 * time.Millisecond)
	idle0 := train.cpuTime(t)
	time.Sleep(time.Second)
	idle := train.cpuTime(t) - idle0
	if idle > 300*time.Millisecond {
		t.Errorf("train used %v of CPU in the second after the cancellation; it is still working", idle)
	}
	t.Logf("cancel: CancelRun returned in %v; train's Train call ended Canceled %v after it; train CPU %v in 0.5 s before, %v in 1 s after",
		rpc.Round(time.Millisecond), latency.Round(time.Millisecond), busy, idle)
}

// TestLoad runs 50 runs at once through an orchestrator that executes 8 at
// a time, checks that all succeed and that its peak memory stays bounded,
// then checks admission control: with one run executing and the queue
// full, StartRun answers ResourceExhausted naming the limit.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 50 pipelines")
	}
	c := startCluster(t, map[string][]string{"orchestrator": {"--max-concurrent-runs", "8", "--max-queued-runs", "64"}})
	orch := c.procs["orchestrator"]

	t.Run("50 concurrent runs", func(t *testing.T) {
		const n = 50
		hwm0 := orch.status(t, "VmHWM")
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				resp, err := c.client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
					Name: fmt.Sprintf("load-%d", i), Source: irisSource(), Label: "species", Seed: int64(i),
					Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}, {Algorithm: "decision_tree"}},
				}})
				ids[i], errs[i] = resp.GetRun().GetId(), err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("run %d not accepted: %v", i, err)
			}
		}
		start := time.Now()
		var mu sync.Mutex
		failed := 0
		for _, id := range ids {
			wg.Go(func() {
				run, err := awaitRun(c.client, id)
				if err == nil && run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
					err = fmt.Errorf("%s: %s", run.GetState(), run.GetError())
				}
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					t.Errorf("run %s: %v", id, err)
				}
			})
		}
		wg.Wait()
		hwm1, rss := orch.status(t, "VmHWM"), orch.status(t, "VmRSS")
		t.Logf("%d concurrent runs, %d succeeded in %v; orchestrator VmHWM %d MiB before, %d MiB after (VmRSS now %d MiB)",
			n, n-failed, time.Since(start).Round(time.Millisecond), hwm0>>10, hwm1>>10, rss>>10)
		if hwm1 > 1<<20 { // kB: 1 GiB
			t.Errorf("orchestrator peak RSS %d MiB for 50 small runs; want under 1 GiB", hwm1>>10)
		}
	})

	t.Run("admission control", func(t *testing.T) {
		orch.stop(t)
		c.restartOrchestrator(t, []string{"--max-concurrent-runs", "1", "--max-queued-runs", "2"})
		slow := startRun(t, c.client, &orchestratorv1.PipelineSpec{
			Source: irisSource(), Label: "species", Seed: 9001,
			Candidates: []*orchestratorv1.Candidate{{Algorithm: "random_forest", Params: map[string]float64{"n_estimators": 10000}}},
		})
		deadline := time.Now().Add(30 * time.Second)
		for getRun(t, c.client, slow).GetState() != orchestratorv1.RunState_RUN_STATE_RUNNING {
			if time.Now().After(deadline) {
				t.Fatal("the first run never started")
			}
			time.Sleep(10 * time.Millisecond)
		}
		queued := []string{
			startRun(t, c.client, &orchestratorv1.PipelineSpec{Source: irisSource(), Label: "species", Seed: 9002}),
			startRun(t, c.client, &orchestratorv1.PipelineSpec{Source: irisSource(), Label: "species", Seed: 9003}),
		}
		for _, id := range queued {
			if st := getRun(t, c.client, id).GetState(); st != orchestratorv1.RunState_RUN_STATE_PENDING {
				t.Errorf("run %s is %s; with one run executing it should wait", id, st)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{Source: irisSource(), Label: "species"}})
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "max_queued_runs") {
			t.Errorf("StartRun with a full queue: %v; want ResourceExhausted naming max_queued_runs", err)
		}
		for _, id := range append(queued, slow) {
			resp, err := c.client.CancelRun(ctx, &orchestratorv1.CancelRunRequest{RunId: id})
			if err != nil {
				t.Fatalf("cancel %s: %v", id, err)
			}
			if st := resp.GetRun().GetState(); st != orchestratorv1.RunState_RUN_STATE_CANCELLED {
				t.Errorf("run %s is %s after CancelRun", id, st)
			}
		}
		// The queue drained: runs are accepted again.
		run := waitRun(t, c.client, startRun(t, c.client, &orchestratorv1.PipelineSpec{
			Source: irisSource(), Label: "species", Candidates: []*orchestratorv1.Candidate{{Algorithm: "naive_bayes"}},
		}))
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run after the queue drained: %s: %s", run.GetState(), run.GetError())
		}
		t.Log("admission: 1 executing + 2 queued held; the 4th StartRun got ResourceExhausted (max_queued_runs)")
	})
}

// bboltCheck runs the bbolt command-line tool's own consistency check on
// the file, as an operator would. scripts/tools.sh installs the pinned
// tool into bin/; CI always has it, a developer without it is told so.
func bboltCheck(t *testing.T, path string) {
	t.Helper()
	bin := filepath.Join(repoRoot(t), "bin", "bbolt")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("bbolt"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("bbolt tool missing: run scripts/tools.sh")
			}
			t.Log("bbolt tool missing (scripts/tools.sh installs it); skipping `bbolt check`")
			return
		}
	}
	out, err := exec.Command(bin, "check", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("bbolt check %s: %v\n%s", path, err, out)
	}
}
