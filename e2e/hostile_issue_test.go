package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/table"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// hostileUploadLimit is the orchestrator's --max-upload-bytes in
// TestHostile: above one group of store chunks (8 MiB), so a refused or
// aborted upload has committed chunks to clean up.
const hostileUploadLimit = 12 << 20

// hostileDataset is the dataset TestHostile appends to, made from tiny.csv
// before the bad requests.
const hostileDataset = "hostile"

// renamedCSV is tiny.csv with its column y renamed to why.
var renamedCSV = strings.Replace(tinyCSV, "x,y,label", "x,why,label", 1)

// rawFrame is a codec that puts raw bytes on the wire, to send frames that
// are not valid protobuf.
type rawFrame struct{}

func (rawFrame) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawFrame) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawFrame) Name() string { return "proto" }

// gzipBomb is a gzip file that expands about 1000 times into n bytes of
// a one-column CSV.
func gzipBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write([]byte("a\n"))
	line := bytes.Repeat([]byte("1\n"), 32<<10)
	for w := 2; w < n; w += len(line) {
		zw.Write(line)
	}
	zw.Close()
	return buf.Bytes()
}

// issueCases are the inputs an independent tester broke the services with
// (issue "What a hostile tester broke"), one or more per point, each with
// the answer it must now get.
func issueCases(t *testing.T, c *cluster, conns map[string]*grpc.ClientConn, fx *fixtures) []hostileCase {
	ing := ingestv1.NewIngestServiceClient(conns["ingest"])
	prp := prepv1.NewPrepServiceClient(conns["prep"])
	trn := trainv1.NewTrainServiceClient(conns["train"])
	orc := c.client

	// 2: a 20 000-row table whose text label is unique per row profiles
	// within the call's deadline.
	n := 20_000
	labels, xs := make([]string, n), make([]float64, n)
	codes32 := make([]int32, n)
	for i := range n {
		labels[i], codes32[i], xs[i] = fmt.Sprintf("row %d of the label", i), int32(i), float64(i%97)
	}
	unique := &table.Table{Columns: []*table.Column{table.NewNumeric("x", xs), table.NewCategorical("label", codes32, labels)}}
	uSchema, uBatches := tableParts(t, unique)
	profileUnique := func(ctx context.Context) error {
		s, err := prp.Profile(ctx)
		msgs := []*prepv1.ProfileRequest{
			{Part: &prepv1.ProfileRequest_Options{Options: &prepv1.ProfileOptions{Label: "label"}}},
			{Part: &prepv1.ProfileRequest_Schema{Schema: uSchema}},
		}
		for _, b := range uBatches {
			msgs = append(msgs, &prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Batch{Batch: b}})
		}
		return clientStream(s, err, msgs...)
	}

	// 3: a file wider than ingest's 10 000-column limit.
	var wide strings.Builder
	for j := range 10_001 {
		if j > 0 {
			wide.WriteByte(',')
		}
		fmt.Fprintf(&wide, "c%d", j)
	}
	wide.WriteString("\n")
	wide.WriteString(strings.Repeat("1,", 10_000) + "1\n")
	ingestUpload := func(data []byte) func(context.Context) error {
		return func(ctx context.Context) error {
			var msgs []*ingestv1.UploadRequest
			for len(data) > 0 {
				k := min(len(data), 1<<20)
				msgs = append(msgs, &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Chunk{Chunk: data[:k]}})
				data = data[k:]
			}
			s, err := ing.Upload(ctx)
			return bidiStream(s, err, msgs...)
		}
	}

	// 4: uploads to the orchestrator over its limit, and cut short.
	piece := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB
	orcUpload := func(ctx context.Context, pieces int) (orchestratorv1.OrchestratorService_UploadSourceClient, error) {
		s, err := orc.UploadSource(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "big.csv"}}); err != nil {
			return s, err
		}
		for i := range pieces {
			p := bytes.Clone(piece)
			p[0], p[1] = byte(i), byte(i>>8)
			if err := s.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: p}}); err != nil {
				return s, err
			}
		}
		return s, nil
	}

	// 5: a dashboard beyond loopback without TLS must not start.
	dashboardRefused := func(ctx context.Context) error {
		ready := filepath.Join(t.TempDir(), "addr")
		cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "orchestrator"), "--addr", anyPort, "--ready-file", ready,
			"--http", "0.0.0.0:0", "--data-dir", t.TempDir())
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return status.Errorf(codes.Unknown, "the orchestrator ran with a plaintext dashboard on 0.0.0.0 (%v)", err)
		}
		if _, statErr := os.Stat(ready); statErr == nil {
			return status.Error(codes.Unknown, "the orchestrator listened before refusing")
		}
		return status.Errorf(codes.FailedPrecondition, "the orchestrator refused to start (%v)", err)
	}

	// 6: a frame that is not protobuf, to one method of each service.
	malformed := func(service, method string) hostileCase {
		return hostileCase{service, "malformed protobuf to " + method, func(ctx context.Context) error {
			frame := []byte{0x0a, 0xff} // a length running past the end
			desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
			s, err := conns[service].NewStream(ctx, desc, method, grpc.ForceCodecV2(rawFrame{}))
			if err != nil {
				return err
			}
			if err := s.SendMsg(&frame); err != nil {
				return err
			}
			_ = s.CloseSend()
			var out []byte
			return s.RecvMsg(&out)
		}, codes.InvalidArgument, "malformed request message", ""}
	}

	// 7: training that cannot end well, and an append renaming a column.
	schema, batches := tableParts(t, fx.prepared)
	trainMsgs := func(cfg *trainv1.TrainConfig, withTable bool) func(context.Context) error {
		return func(ctx context.Context) error {
			msgs := []*trainv1.TrainRequest{{Part: &trainv1.TrainRequest_Config{Config: cfg}}}
			if withTable {
				msgs = append(msgs, &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Schema{Schema: schema}})
				for _, b := range batches {
					msgs = append(msgs, &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Batch{Batch: b}})
				}
			}
			s, err := trn.Train(ctx)
			return bidiStream(s, err, msgs...)
		}
	}

	const ia = codes.InvalidArgument
	return []hostileCase{
		{"prep", "#2 profile: a text label unique in 20 000 rows", profileUnique, codes.OK, "", ""},
		{"ingest", "#3 upload: 10 001 columns", ingestUpload([]byte(wide.String())), codes.ResourceExhausted, "max_columns", ""},
		{"orchestrator", "#4 upload: 13 MiB over a 12 MiB limit", func(ctx context.Context) error {
			s, err := orcUpload(ctx, 13*16)
			if err != nil && s == nil {
				return err
			}
			_, err = s.CloseAndRecv()
			return err
		}, codes.ResourceExhausted, "max_upload_bytes", ""},
		{"orchestrator", "#4 upload: the client goes away after 10 MiB", func(ctx context.Context) error {
			cctx, cancel := context.WithCancel(ctx)
			s, err := orcUpload(cctx, 10*16)
			cancel()
			if err != nil && s == nil {
				return err
			}
			return s.RecvMsg(new(orchestratorv1.UploadSourceResponse))
		}, codes.Canceled, "context canceled", ""},
		{"orchestrator", "#5 dashboard: plain HTTP on 0.0.0.0", dashboardRefused, codes.FailedPrecondition, "refused to start", ""},
		malformed("ingest", "/alur.ingest.v1.IngestService/Read"),
		malformed("prep", "/alur.prep.v1.PrepService/Profile"),
		malformed("train", "/alur.train.v1.TrainService/Train"),
		malformed("eval", "/alur.eval.v1.EvalService/Evaluate"),
		malformed("orchestrator", "/alur.orchestrator.v1.OrchestratorService/GetRun"),
		{"train", "#7 boosting: max_iter 100000 with 65 536 leaves", trainMsgs(&trainv1.TrainConfig{Algorithm: "gradient_boosting", Label: fx.label,
			Params: map[string]float64{"max_iter": 100000, "max_leaf_nodes": 65536}}, false), ia, "above this server's limit", `config.params["max_iter"]`},
		{"train", "#7 knn: k above the training rows", trainMsgs(&trainv1.TrainConfig{Algorithm: "knn", Label: fx.label,
			Params: map[string]float64{"k": 10000}}, true), ia, "training rows", `config.params["k"]`},
		{"orchestrator", "#7 dataset: an append renaming a column", func(ctx context.Context) error {
			_, err := orc.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: hostileDataset,
				Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Path{Path: "renamed.csv"}}})
			return err
		}, codes.FailedPrecondition, `renames columns: column "y"`, ""},
		{"ingest", "#8 upload: a gzip bomb", ingestUpload(gzipBomb(256 << 20)), codes.ResourceExhausted, "max_gzip_ratio", ""},
	}
}

// setUpIssueCases prepares what issueCases need before the artifacts are
// counted: renamed.csv in ingest's data root and the dataset's first
// version.
func setUpIssueCases(t *testing.T, c *cluster) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.dataRoot, "renamed.csv"), []byte(renamedCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: hostileDataset,
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Path{Path: "tiny.csv"}}}); err != nil {
		t.Fatal(err)
	}
}

// orphanChunks stops the orchestrator, then opens its store and counts
// the chunks no artifact references, and the problems its check finds.
func orphanChunks(t *testing.T, c *cluster) (store.Usage, []string) {
	t.Helper()
	c.procs["orchestrator"].stop(t)
	st, err := store.Open(filepath.Join(c.dataDir, orchestrator.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.Usage()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := st.Check()
	if err != nil {
		t.Fatal(err)
	}
	return u, problems
}
