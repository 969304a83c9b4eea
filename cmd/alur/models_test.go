package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// succeededIrisRun runs logistic regression on iris through the stack's
// orchestrator and returns the run's id.
func succeededIrisRun(t *testing.T, addr string) string {
	t.Helper()
	return succeededRun(t, addr, &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Seed: 42,
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
	})
}

// succeededRun runs spec through the stack's orchestrator, checks that it
// succeeded and returns the run's id.
func succeededRun(t *testing.T, addr string, spec *orchestratorv1.PipelineSpec) string {
	t.Helper()
	c, err := dialClient(addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start, err := c.orch.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	id := start.GetRun().GetId()
	w, err := c.orch.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := w.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	run, err := c.orch.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil || run.GetRun().GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run: %v %v", run.GetRun().GetState(), err)
	}
	return id
}

func TestModelsCommands(t *testing.T) {
	cfg := stackConfig{ServeAddr: stack.Loopback}
	cfg.DataDir = t.TempDir()
	st, err := startStack(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	id := succeededIrisRun(t, st.OrchestratorAddr)
	env := map[string]string{serverEnv: st.OrchestratorAddr, "USER": "ada"}
	onnxPath := filepath.Join(t.TempDir(), "iris.onnx")
	steps := []struct {
		args     []string
		wantCode int
		want     []string
	}{
		{[]string{"models", "list"}, exitOK, []string{"No registered models"}},
		{[]string{"models", "register", id}, exitUsage, nil},
		{[]string{"models", "register", id, "--name", "iris", "--description", "baseline"}, exitOK, []string{"Registered iris version 1", "logistic_regression"}},
		{[]string{"models", "register", id, "--name", "iris"}, exitOK, []string{"Registered iris version 2"}},
		{[]string{"models", "alias", "iris@1", "production"}, exitOK, []string{"iris@production now points at version 1"}},
		{[]string{"models", "alias", "iris@2", "production", "--reason", "newer"}, exitOK, []string{"version 2 (was 1)"}},
		{[]string{"models", "alias", "iris", "production"}, exitUsage, nil},
		{[]string{"models", "list"}, exitOK, []string{"iris", "production→2", "accuracy"}},
		{[]string{"models", "show", "iris@production"}, exitOK, []string{"Version 2:", "petal_length_cm (numeric)", "ada", "baseline", "classes: setosa"}},
		{[]string{"models", "delete", "iris@2"}, exitFailure, nil},
		{[]string{"infer"}, exitOK, nil},
		{[]string{"models", "export", "iris@production", "-o", onnxPath}, exitOK, []string{"Wrote", "version 2", "petal_width_cm"}},
		{[]string{"models", "export", "iris@production"}, exitUsage, nil},
		{[]string{"models", "delete", "iris@1"}, exitOK, []string{"Deleted iris version 1"}},
		{[]string{"models", "show", "iris@1"}, exitFailure, nil},
		{[]string{"models", "unalias", "iris", "production"}, exitOK, []string{"Removed alias production"}},
		{[]string{"models", "delete", "iris@2"}, exitOK, nil},
		{[]string{"models", "frobnicate"}, exitUsage, nil},
	}
	for _, s := range steps {
		if s.args[0] == "infer" {
			inferIris(t, st.ServeAddr, "iris@production", "2")
			continue
		}
		a, out, errb := newTestApp(env)
		code := runMain(context.Background(), s.args, a)
		if code != s.wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.args, code, s.wantCode, out, errb)
		}
		for _, w := range s.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", s.args, w, out)
			}
		}
	}
}

// TestModelsExportEnsemble exports the model a default run hands over:
// with no candidates named, wine's run hands over an ensemble (its
// winner's fold models averaged, or ensemble selection's mix). The time
// budget is an hour so that no trial's start depends on the machine's
// speed.
func TestModelsExportEnsemble(t *testing.T) {
	cfg := stackConfig{ServeAddr: stack.Loopback}
	cfg.DataDir = t.TempDir()
	st, err := startStack(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	id := succeededRun(t, st.OrchestratorAddr, &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "wine"}}, Label: "class", Seed: 42,
		MaxTrials: 6, TimeBudget: durationpb.New(time.Hour),
	})
	env := map[string]string{serverEnv: st.OrchestratorAddr, "USER": "ada"}
	onnxPath := filepath.Join(t.TempDir(), "wine.onnx")
	for _, s := range []struct {
		args []string
		want []string
	}{
		{[]string{"models", "register", id, "--name", "wine"}, []string{"Registered wine version 1"}},
		{[]string{"models", "export", "wine@1", "-o", onnxPath}, []string{"Wrote", "version 1 (ensemble)", "alcohol"}},
	} {
		a, out, errb := newTestApp(env)
		if code := runMain(context.Background(), s.args, a); code != exitOK {
			t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", s.args, code, out, errb)
		}
		for _, w := range s.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", s.args, w, out)
			}
		}
	}
}

// inferIris asks the serving stage at addr for one iris row and checks
// the version that answers.
func inferIris(t *testing.T, addr, model, wantVersion string) {
	t.Helper()
	conn, err := serverkit.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	num := func(name string, v float64) *inference.ModelInferRequest_InferInputTensor {
		return &inference.ModelInferRequest_InferInputTensor{Name: name, Datatype: "FP64", Shape: []int64{1}, Contents: &inference.InferTensorContents{Fp64Contents: []float64{v}}}
	}
	resp, err := inference.NewGRPCInferenceServiceClient(conn).ModelInfer(context.Background(), &inference.ModelInferRequest{
		ModelName: model,
		Inputs:    []*inference.ModelInferRequest_InferInputTensor{num("sepal_length_cm", 5.1), num("sepal_width_cm", 3.5), num("petal_length_cm", 1.4), num("petal_width_cm", 0.2)},
	})
	if err != nil {
		t.Fatalf("ModelInfer %s: %v", model, err)
	}
	if resp.GetModelVersion() != wantVersion || string(resp.GetOutputs()[0].GetContents().GetBytesContents()[0]) != "setosa" {
		t.Fatalf("ModelInfer %s: version %s, outputs %v; want version %s, setosa", model, resp.GetModelVersion(), resp.GetOutputs(), wantVersion)
	}
}
