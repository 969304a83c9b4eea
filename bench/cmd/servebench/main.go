// Command servebench measures the serve stage: one-row and 1,000-row
// ModelInfer calls over gRPC on loopback for logistic regression, a
// 100-tree random forest and 100-round gradient boosting trained on 20
// features, with p50/p99 latency and rows/s, and the same rows predicted
// in process by scikit-learn beside them (bench/serve_sklearn.py, when
// Debian's python3-sklearn is installed). It is a benchmark, not a test:
// it prints figures and checks nothing but that the calls succeed.
//
//	go run ./bench/cmd/servebench [-rows 20000] [-single 2000] [-batch 100]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/bench/synth"
	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/serve"
)

// models are the benchmarked algorithms and their settings.
var models = []struct {
	name, algorithm string
	params          map[string]float64
}{
	{"logistic", "logistic_regression", nil},
	{"forest100", "random_forest", map[string]float64{"n_estimators": 100}},
	{"boosting100", "gradient_boosting", map[string]float64{"max_iter": 100, "early_stopping": 0}},
}

// registry serves GetModel and GetArtifact for versions held in memory,
// as the orchestrator's registry does.
type registry struct {
	orchestratorv1.UnimplementedOrchestratorServiceServer
	mu        sync.Mutex
	artifacts map[string][]byte
	versions  map[string]*orchestratorv1.ModelVersion
}

func (r *registry) add(name string, tr *datav1.FittedTransform, m *datav1.Model) int64 {
	put := func(b []byte) string {
		s := sha256.Sum256(b)
		d := hex.EncodeToString(s[:])
		r.artifacts[d] = b
		return d
	}
	mb, _ := proto.Marshal(m)
	tb, _ := proto.Marshal(tr)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.versions[name] = &orchestratorv1.ModelVersion{Name: name, Version: 1, ModelDigest: put(mb), TransformDigest: put(tb), ModelSize: int64(len(mb))}
	return int64(len(mb) + len(tb))
}

func (r *registry) GetModel(_ context.Context, req *orchestratorv1.GetModelRequest) (*orchestratorv1.GetModelResponse, error) {
	name, _, _ := strings.Cut(req.GetRef(), "@")
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.versions[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "model %q", name)
	}
	return &orchestratorv1.GetModelResponse{Version: v}, nil
}

func (r *registry) GetArtifact(req *orchestratorv1.GetArtifactRequest, stream grpc.ServerStreamingServer[orchestratorv1.GetArtifactResponse]) error {
	r.mu.Lock()
	b := r.artifacts[req.GetDigest()]
	r.mu.Unlock()
	if err := stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Artifact{Artifact: &orchestratorv1.Artifact{Size: int64(len(b))}}}); err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(len(b), 1<<20)
		if err := stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Chunk{Chunk: b[:n]}}); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// serveOn serves register on a loopback port until the program ends.
func serveOn(register func(*grpc.Server)) string {
	srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
	register(srv.GRPC)
	lis, err := serverkit.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(context.Background(), lis) }()
	return lis.Addr().String()
}

// request builds a ModelInfer request for rows [lo, hi) of t's features.
func request(model string, t *table.Table, features []string, lo, hi int) *inference.ModelInferRequest {
	req := &inference.ModelInferRequest{ModelName: model}
	for _, f := range features {
		c, _ := t.Column(f)
		req.Inputs = append(req.Inputs, &inference.ModelInferRequest_InferInputTensor{
			Name: f, Datatype: "FP64", Shape: []int64{int64(hi - lo)},
			Contents: &inference.InferTensorContents{Fp64Contents: c.Nums[lo:hi]},
		})
	}
	return req
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func main() {
	rows := flag.Int("rows", 20000, "rows of the synthetic training data")
	single := flag.Int("single", 2000, "one-row calls per model")
	batch := flag.Int("batch", 100, "1,000-row calls per model")
	python := flag.String("python", "/usr/bin/python3", "Python with scikit-learn, for the in-process comparison")
	script := flag.String("sklearn-script", "bench/serve_sklearn.py", "the scikit-learn side")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed calls to `file`")
	memProfile := flag.String("memprofile", "", "write a heap profile taken after the models are loaded to `file`")
	flag.Parse()

	dir, err := os.MkdirTemp("", "servebench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	csvPath := filepath.Join(dir, "data.csv")
	var buf bytes.Buffer
	if _, err := synth.Generate(&buf, synth.Config{Rows: *rows, Features: 20, Seed: 1}); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(csvPath, buf.Bytes(), 0o600); err != nil {
		log.Fatal(err)
	}
	t, err := csvio.Read(bytes.NewReader(buf.Bytes()), csvio.Options{CategoricalColumns: []string{synth.LabelColumn, synth.SplitColumn}})
	if err != nil {
		log.Fatal(err)
	}
	tr, err := dataprep.Fit(t, nil, &prepv1.PrepareOptions{Label: synth.LabelColumn, DropColumns: []string{synth.SplitColumn}})
	if err != nil {
		log.Fatal(err)
	}
	X, y, err := dataprep.ApplyWithLabel(tr, t)
	if err != nil {
		log.Fatal(err)
	}
	var features []string
	for _, ct := range tr.GetColumns() {
		if ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_DROP && ct.GetName() != synth.LabelColumn {
			features = append(features, ct.GetName())
		}
	}

	reg := &registry{artifacts: map[string][]byte{}, versions: map[string]*orchestratorv1.ModelVersion{}}
	var modelBytes int64
	sizes := map[string]int64{}
	for _, m := range models {
		start := time.Now()
		fit, err := algo.Fit(context.Background(), m.algorithm, &algo.Dataset{
			X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: len(tr.GetClassNames()),
			FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames(),
		}, m.params, 1, nil)
		if err != nil {
			log.Fatalf("%s: %v", m.name, err)
		}
		n := reg.add(m.name, tr, fit)
		modelBytes += n
		sizes[m.name] = n
		fmt.Fprintf(os.Stderr, "servebench: trained %s in %v (%d bytes)\n", m.name, time.Since(start).Round(time.Millisecond), n)
	}
	regAddr := serveOn(func(g *grpc.Server) { orchestratorv1.RegisterOrchestratorServiceServer(g, reg) })
	rconn, err := serverkit.Dial(regAddr)
	if err != nil {
		log.Fatal(err)
	}
	// settle lets the server's side of the last call finish (it returns
	// buffers to pools after the client has its answer), then collects
	// twice, so that buffers parked in sync.Pools (gRPC's among them) are
	// dropped too and the heap holds only what is kept.
	settle := func() (m runtime.MemStats) {
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m
	}
	before := settle()
	srv, err := serve.New(serve.Config{Registry: orchestratorv1.NewOrchestratorServiceClient(rconn), Logger: slog.New(slog.DiscardHandler), AliasTTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	addr := serveOn(srv.Register)
	conn, err := serverkit.Dial(addr)
	if err != nil {
		log.Fatal(err)
	}
	client := inference.NewGRPCInferenceServiceClient(conn)
	ctx := context.Background()
	// A call for a model the registry lacks opens the connections, so that
	// what each model's first call adds to the heap is the model alone.
	if _, err := client.ModelInfer(ctx, request("none", t, features, 0, 1)); status.Code(err) != codes.NotFound {
		log.Fatalf("a model the registry lacks: %v", err)
	}
	held := map[string]int64{}
	prev := settle()
	for _, m := range models {
		if _, err := client.ModelInfer(ctx, request(m.name, t, features, 0, 1)); err != nil {
			log.Fatalf("%s: %v", m.name, err)
		}
		now := settle()
		held[m.name] = int64(now.HeapAlloc) - int64(prev.HeapAlloc)
		prev = now
	}
	after := prev
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}

	sk := sklearnSide(*python, *script, csvPath)
	fmt.Printf("serve benchmark: %d training rows, 20 features, %d classes; %d one-row and %d 1,000-row ModelInfer calls per model over gRPC on loopback, GOMAXPROCS %d\n\n",
		*rows, len(tr.GetClassNames()), *single, *batch, runtime.GOMAXPROCS(0))
	fmt.Printf("%-12s %12s %12s %14s   %14s %14s %16s\n", "model", "1-row p50", "1-row p99", "1000-row rows/s", "sklearn 1-row", "sklearn p99", "sklearn rows/s")
	rng := rand.New(rand.NewPCG(1, 2))
	n := t.NumRows()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	for _, m := range models {
		lat := make([]time.Duration, 0, *single)
		for range *single {
			i := rng.IntN(n)
			req := request(m.name, t, features, i, i+1)
			start := time.Now()
			if _, err := client.ModelInfer(ctx, req); err != nil {
				log.Fatalf("%s: %v", m.name, err)
			}
			lat = append(lat, time.Since(start))
		}
		var total time.Duration
		for range *batch {
			i := rng.IntN(n - 1000)
			req := request(m.name, t, features, i, i+1000)
			start := time.Now()
			if _, err := client.ModelInfer(ctx, req); err != nil {
				log.Fatalf("%s: %v", m.name, err)
			}
			total += time.Since(start)
		}
		rowsPerSec := float64(*batch*1000) / total.Seconds()
		s := sk[m.name]
		fmt.Printf("%-12s %12s %12s %14.0f   %14s %14s %16s\n", m.name, fmtDur(percentile(lat, 0.5)), fmtDur(percentile(lat, 0.99)), rowsPerSec,
			s.single50, s.single99, s.rows)
	}
	fmt.Printf("\nserve heap after loading the three models: %.1f MiB in use (%.1f MiB allocated) for %.1f MiB of serialized models and transforms\n",
		float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), float64(modelBytes)/(1<<20))
	for _, m := range models {
		fmt.Printf("  %-12s held %8.0f KiB for %8.0f KiB serialized (%.2fx)\n", m.name,
			float64(held[m.name])/1024, float64(sizes[m.name])/1024, float64(held[m.name])/float64(sizes[m.name]))
	}
	fmt.Println("(heap measured in this one process, which also holds the benchmark's registry; an upper bound)")
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

type skResult struct{ single50, single99, rows string }

// sklearnSide runs the scikit-learn script and returns its figures by
// model name, or dashes when scikit-learn is missing.
func sklearnSide(python, script, csvPath string) map[string]skResult {
	out := map[string]skResult{}
	for _, m := range models {
		out[m.name] = skResult{"-", "-", "-"}
	}
	cmd := exec.Command(python, script, "--csv", csvPath)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "servebench: scikit-learn side: %v\n", err)
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r struct {
			Model      string  `json:"model"`
			P50        float64 `json:"p50_ms"`
			P99        float64 `json:"p99_ms"`
			RowsPerSec float64 `json:"rows_per_s"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Model != "" {
			out[r.Model] = skResult{fmt.Sprintf("%.3f ms", r.P50), fmt.Sprintf("%.3f ms", r.P99), fmt.Sprintf("%.0f", r.RowsPerSec)}
		}
	}
	return out
}
