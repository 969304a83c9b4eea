package stageclient

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
)

// echoEval answers Evaluate with outputs that name their row: every
// output of a row is the value of the row's "x" column.
type echoEval struct {
	evalv1.UnimplementedEvalServiceServer
	width int
	mu    sync.Mutex
	calls []int // rows per call
}

func (e *echoEval) Evaluate(stream grpc.ClientStreamingServer[evalv1.EvaluateRequest, evalv1.EvaluateResponse]) error {
	col := &tablepb.Collector{}
	width, outputs := e.width, false
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		outputs = outputs || req.GetReturnOutputs()
		switch p := req.GetPart().(type) {
		case *evalv1.EvaluateRequest_Schema:
			if err := col.Schema(p.Schema); err != nil {
				return err
			}
		case *evalv1.EvaluateRequest_Batch:
			if err := col.Batch(p.Batch); err != nil {
				return err
			}
		}
	}
	t, err := col.Table()
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.calls = append(e.calls, t.NumRows())
	e.mu.Unlock()
	resp := &evalv1.EvaluateResponse{}
	if outputs {
		x, _ := t.Column("x")
		resp.OutputWidth = int32(width)
		for _, v := range x.Nums {
			for range width {
				resp.Outputs = append(resp.Outputs, v)
			}
		}
	}
	return stream.SendAndClose(resp)
}

// TestOutputsSplitsRows checks that Outputs asks for no more outputs per
// call than one answer holds and puts the rows back in order.
func TestOutputsSplitsRows(t *testing.T) {
	fake := &echoEval{}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	evalv1.RegisterEvalServiceServer(srv, fake)
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///eval", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &Clients{eval: evalv1.NewEvalServiceClient(conn), stepTimeout: time.Minute}

	const rows, width = 7, MaxOutputValues / 3 // 3 rows per answer
	fake.width = width
	x := make([]float64, rows)
	for i := range x {
		x[i] = float64(i)
	}
	tab := &table.Table{Columns: []*table.Column{table.NewNumeric("x", x), table.NewNumeric("y", x)}}
	out, err := c.Outputs(t.Context(), []byte("model"), tab, "y", width)
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.calls; len(got) != 3 || got[0] != 3 || got[1] != 3 || got[2] != 1 {
		t.Errorf("rows per call %v, want [3 3 1]", got)
	}
	if r, c := out.Dims(); r != rows || c != width {
		t.Fatalf("outputs %d×%d, want %d×%d", r, c, rows, width)
	}
	for i := range rows {
		if out.At(i, 0) != float64(i) || out.At(i, width-1) != float64(i) {
			t.Errorf("row %d holds %v…%v, want %d", i, out.At(i, 0), out.At(i, width-1), i)
		}
	}
}
