// Package e2e tests alur as users deploy it: the five services are built
// and started as separate processes on loopback ports, and a pipeline runs
// through the orchestrator, through the CLI and over plain gRPC. The
// reliability tests (reliability_test.go, hostile_test.go) crash, stop,
// cancel, load and attack those processes; `make reliability` runs them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

const tinyCSV = `x,y,label
1,2,a
2,1,a
1,1,a
2,2,a
8,9,b
9,8,b
8,8,b
9,9,b
1,3,a
3,1,a
9,7,b
7,9,b
2,3,a
3,2,a
8,7,b
7,8,b
1,2,a
9,8,b
2,2,a
8,9,b
`

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts five processes")
	}
	c := startCluster(t, nil)
	client := c.client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var irisRun string
	t.Run("bundled iris pipeline", func(t *testing.T) {
		spec := &orchestratorv1.PipelineSpec{
			Name:   "iris",
			Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
			Label:  "species",
			Candidates: []*orchestratorv1.Candidate{
				{Algorithm: "logistic_regression"},
				{Algorithm: "knn", Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{3, 7}}}},
				{Algorithm: "random_forest", Params: map[string]float64{"n_estimators": 30}},
			},
			Objective: &orchestratorv1.Objective{Metric: "accuracy"},
			Seed:      42,
		}
		start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		run := waitRun(t, client, start.GetRun().GetId())
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run %s: %v", run.GetState(), run.GetError())
		}
		if n := len(singleTrials(run)); n != 4 {
			t.Errorf("single trials = %d, want 4 (logistic, knn k=3, knn k=7, forest; and maybe their ensemble)", n)
		}
		acc := run.GetTestMetrics().GetClassification().GetAccuracy()
		if acc < 0.85 {
			t.Errorf("test accuracy %.3f < 0.85", acc)
		}
		// 150 rows: the trials are cross-validated by default (5 folds).
		want := []string{"collect", "profile", "prepare", "train/1/fold1", "evaluate/1/fold5", "refit", "test"}
		for _, name := range want {
			found := false
			for _, st := range run.GetSteps() {
				found = found || (st.GetName() == name && st.GetState() == orchestratorv1.StepState_STEP_STATE_SUCCEEDED)
			}
			if !found {
				t.Errorf("step %s missing or not succeeded", name)
			}
		}
		// Every artifact streams back and matches its digest.
		arts, err := client.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{RunId: run.GetId()})
		if err != nil || len(arts.GetArtifacts()) < 8 {
			t.Fatalf("artifacts: %d, %v", len(arts.GetArtifacts()), err)
		}
		for _, a := range arts.GetArtifacts() {
			stream, err := client.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: a.GetDigest()})
			if err != nil {
				t.Fatal(err)
			}
			var content []byte
			for {
				m, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("artifact %s: %v", a.GetDigest(), err)
				}
				content = append(content, m.GetChunk()...)
			}
			if int64(len(content)) != a.GetSize() {
				t.Errorf("artifact %s: %d bytes, want %d", a.GetKind(), len(content), a.GetSize())
			}
		}
		// A second identical run reuses every step from the cache.
		again, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		run2 := waitRun(t, client, again.GetRun().GetId())
		for _, st := range run2.GetSteps() {
			if !st.GetCacheHit() {
				t.Errorf("second run: step %s not a cache hit", st.GetName())
			}
		}
		if !proto.Equal(run2.GetTestMetrics(), run.GetTestMetrics()) {
			t.Error("second run scored differently")
		}
		irisRun = run.GetId()
	})

	t.Run("predict", func(t *testing.T) {
		if irisRun == "" {
			t.Skip("no iris run")
		}
		resp, err := client.Predict(ctx, &orchestratorv1.PredictRequest{RunId: irisRun, Rows: &datav1.RawRows{
			Columns: []string{"sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"},
			Rows:    []*datav1.RawRow{{Values: []string{"5.1", "3.5", "1.4", "0.2"}}, {Values: []string{"6.7", "3.0", "5.2", "2.3"}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{resp.GetPredictions()[0].GetLabel(), resp.GetPredictions()[1].GetLabel()}
		if got[0] != "setosa" || got[1] != "virginica" {
			t.Errorf("predictions %v, want [setosa virginica]", got)
		}
	})

	t.Run("server-side path", func(t *testing.T) {
		start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
			Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Path{Path: "tiny.csv"}},
			Label:      "label",
			Candidates: []*orchestratorv1.Candidate{{Algorithm: "naive_bayes"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if run := waitRun(t, client, start.GetRun().GetId()); run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run %s: %s", run.GetState(), run.GetError())
		}
	})

	t.Run("bad input", func(t *testing.T) {
		cases := []struct {
			name  string
			spec  *orchestratorv1.PipelineSpec
			field string
		}{
			{"no source", &orchestratorv1.PipelineSpec{Label: "y"}, "spec.source"},
			{"no label", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}}, "spec.label"},
			{"unknown algorithm", &orchestratorv1.PipelineSpec{
				Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species",
				Candidates: []*orchestratorv1.Candidate{{Algorithm: "deep_magic"}},
			}, "spec.candidates[0].algorithm"},
			{"negative hyperparameter", &orchestratorv1.PipelineSpec{
				Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species",
				Candidates: []*orchestratorv1.Candidate{{Algorithm: "knn", Params: map[string]float64{"k": -3}}},
			}, `spec.candidates[0].params["k"]`},
		}
		for _, tc := range cases {
			_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: tc.spec})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: got %v, want InvalidArgument", tc.name, err)
				continue
			}
			if f := serverkit.FieldViolations(err); len(f) != 1 || f[0] != tc.field {
				t.Errorf("%s: field violations %v, want [%s]", tc.name, f, tc.field)
			}
		}
		// Data-dependent problems fail the run with the stage's reason.
		for _, tc := range []struct{ name, source, label, want string }{
			{"missing label", "iris", "no_such_column", "no_such_column"},
			{"path outside the data root", "", "label", "data root"},
		} {
			src := &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: tc.source}}
			if tc.source == "" {
				src = &orchestratorv1.Source{Kind: &orchestratorv1.Source_Path{Path: "../../etc/passwd"}}
			}
			start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{Source: src, Label: tc.label}})
			if err != nil {
				t.Fatal(err)
			}
			run := waitRun(t, client, start.GetRun().GetId())
			if run.GetState() != orchestratorv1.RunState_RUN_STATE_FAILED || !strings.Contains(run.GetError(), tc.want) {
				t.Errorf("%s: run %s with error %q, want failed naming %q", tc.name, run.GetState(), run.GetError(), tc.want)
			}
		}
	})

	t.Run("cli", func(t *testing.T) {
		csv := filepath.Join(t.TempDir(), "tiny.csv")
		if err := os.WriteFile(csv, []byte(tinyCSV), 0o600); err != nil {
			t.Fatal(err)
		}
		alur := filepath.Join(c.bin, "alur")
		out, err := exec.Command(alur, "run", "--server", c.addrs["orchestrator"], "--csv", csv, "--label", "label", "--algorithms", "logistic_regression,decision_tree", "--json").Output()
		if err != nil {
			t.Fatalf("alur run: %v\n%s", err, stderrOf(err))
		}
		run := &orchestratorv1.Run{}
		if err := protojson.Unmarshal(out, run); err != nil {
			t.Fatalf("alur run --json printed no Run: %v\n%s", err, out)
		}
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("cli run %s: %s", run.GetState(), run.GetError())
		}
		out, err = exec.Command(alur, "runs", "list", "--server", c.addrs["orchestrator"], "--json").Output()
		if err != nil {
			t.Fatalf("alur runs list: %v\n%s", err, stderrOf(err))
		}
		if !json.Valid(out) || !bytes.Contains(out, []byte(run.GetId())) {
			t.Errorf("runs list --json does not list %s:\n%s", run.GetId(), out)
		}
		// A failing run exits non-zero and says why.
		cmd := exec.Command(alur, "run", "--server", c.addrs["orchestrator"], "--csv", csv, "--label", "nope")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Error("alur run with a missing label exited 0")
		} else if !strings.Contains(stderr.String(), "nope") {
			t.Errorf("alur run stderr does not name the label:\n%s", stderr.String())
		}
	})
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return fmt.Sprint(err)
}
