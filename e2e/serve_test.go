package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
)

// irisRow is one iris flower as the protocol's input tensors.
func irisRow(model string) *inference.ModelInferRequest {
	num := func(name string, v float64) *inference.ModelInferRequest_InferInputTensor {
		return &inference.ModelInferRequest_InferInputTensor{Name: name, Datatype: "FP64", Shape: []int64{1}, Contents: &inference.InferTensorContents{Fp64Contents: []float64{v}}}
	}
	return &inference.ModelInferRequest{ModelName: model, Inputs: []*inference.ModelInferRequest_InferInputTensor{
		num("sepal_length_cm", 6.7), num("sepal_width_cm", 3.0), num("petal_length_cm", 5.2), num("petal_width_cm", 2.3),
	}}
}

// TestServeRegistryModels is promote-and-serve with the real binaries: two
// runs registered as versions 1 and 2 of "iris", "production" on version
// 1, inference through the serve binary over gRPC and HTTP, the alias
// moved to version 2 and inference again without restarting serve. A
// second serve started while the orchestrator is down reports NOT_SERVING
// until the orchestrator is back.
func TestServeRegistryModels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts seven processes")
	}
	c := startCluster(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i, algo := range []string{"logistic_regression", "decision_tree"} {
		start, err := c.client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
			Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Seed: 1,
			Candidates: []*orchestratorv1.Candidate{{Algorithm: algo}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		run := waitRun(t, c.client, start.GetRun().GetId())
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("%s run: %v %s", algo, run.GetState(), run.GetError())
		}
		// The CLI registers, as a user would.
		out, err := exec.Command(filepath.Join(c.bin, "alur"), "models", "register", run.GetId(), "--name", "iris", "--server", c.addrs["orchestrator"]).CombinedOutput()
		if err != nil {
			t.Fatalf("alur models register: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("version "+string(rune('1'+i)))) {
			t.Fatalf("alur models register: %s", out)
		}
	}
	alias := func(version string) {
		t.Helper()
		out, err := exec.Command(filepath.Join(c.bin, "alur"), "models", "alias", "iris@"+version, "production", "--server", c.addrs["orchestrator"]).CombinedOutput()
		if err != nil {
			t.Fatalf("alur models alias: %v\n%s", err, out)
		}
	}
	alias("1")

	// Both of serve's listeners take a port the kernel picks and report it
	// in a ready file.
	httpReady := filepath.Join(t.TempDir(), "serve-http.addr")
	srv := startProc(t, "serve", anyPort, "--orchestrator", c.addrs["orchestrator"], "--http", anyPort,
		"--http-ready-file", httpReady, "--alias-ttl", "1ns")
	httpAddr, err := serverkit.ReadReadyFile(httpReady)
	if err != nil {
		t.Fatalf("serve's HTTP ready file: %v\n%s", err, srv.log)
	}
	conn, err := serverkit.Dial(srv.addr, clusterDialOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := inference.NewGRPCInferenceServiceClient(conn)
	infer := func(wantVersion string) {
		t.Helper()
		resp, err := client.ModelInfer(ctx, irisRow("iris@production"))
		if err != nil {
			t.Fatalf("ModelInfer: %v", err)
		}
		label := string(resp.GetOutputs()[0].GetContents().GetBytesContents()[0])
		if resp.GetModelVersion() != wantVersion || label != "virginica" {
			t.Fatalf("ModelInfer: version %s said %q, want version %s saying virginica", resp.GetModelVersion(), label, wantVersion)
		}
	}
	infer("1")
	alias("2")
	infer("2")

	body := `{"inputs":[{"name":"sepal_length_cm","datatype":"FP64","shape":[1],"data":[6.7]},
		{"name":"sepal_width_cm","datatype":"FP64","shape":[1],"data":[3.0]},
		{"name":"petal_length_cm","datatype":"FP64","shape":[1],"data":[5.2]},
		{"name":"petal_width_cm","datatype":"FP64","shape":[1],"data":[2.3]}]}`
	resp, err := http.Post("http://"+httpAddr+"/v2/models/iris/versions/production/infer", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ModelVersion string `json:"model_version"`
		Outputs      []struct {
			Name string `json:"name"`
			Data []any  `json:"data"`
		} `json:"outputs"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || got.ModelVersion != "2" || got.Outputs[0].Data[0] != "virginica" {
		t.Fatalf("HTTP infer: %d %+v %v", resp.StatusCode, got, err)
	}

	// The production version as one ONNX file, through the CLI.
	onnxPath := filepath.Join(t.TempDir(), "iris.onnx")
	if out, err := exec.Command(filepath.Join(c.bin, "alur"), "models", "export", "iris@production", "-o", onnxPath, "--server", c.addrs["orchestrator"]).CombinedOutput(); err != nil {
		t.Fatalf("alur models export: %v\n%s", err, out)
	}
	if fi, err := os.Stat(onnxPath); err != nil || fi.Size() == 0 {
		t.Fatalf("exported file: %v %v", fi, err)
	}

	// A serve started while the orchestrator is down waits, NOT_SERVING.
	c.procs["orchestrator"].stop(t)
	late := &proc{name: "serve", bin: filepath.Join(c.bin, "serve"), addr: anyPort, log: &logBuffer{},
		args: []string{"--orchestrator", c.addrs["orchestrator"], "--http="}}
	late.launch(t)
	t.Cleanup(func() {
		if late.running() {
			late.stop(t)
		}
	})
	lconn, err := serverkit.Dial(late.addr, clusterDialOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer lconn.Close()
	var st healthpb.HealthCheckResponse_ServingStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		r, err := healthpb.NewHealthClient(lconn).Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		if err == nil {
			st = r.GetStatus()
			break
		}
	}
	if st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("serve without an orchestrator: health %v, want NOT_SERVING\n%s", st, late.log)
	}
	c.restartOrchestrator(t, nil)
	waitServing(t, late.addr, "serve", late.log)
	if _, err := inference.NewGRPCInferenceServiceClient(lconn).ModelInfer(ctx, irisRow("iris@production")); err != nil {
		t.Fatalf("ModelInfer once the orchestrator is back: %v", err)
	}
}
