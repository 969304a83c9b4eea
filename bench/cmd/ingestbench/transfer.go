package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
)

// transferBlockRows is the block size the transfer server streams in, the
// same as the CSV reader's.
const transferBlockRows = 65536

// transferServer answers Read with a table it holds in memory, cut into
// blocks and encoded as the ingest service encodes what it reads
// (tablepb.StreamEncoder), so the benchmark measures encoding, gRPC on
// loopback and decoding, without parsing.
type transferServer struct {
	ingestv1.UnimplementedIngestServiceServer
	t *table.Table
}

func (s *transferServer) Read(_ *ingestv1.ReadRequest, stream ingestv1.IngestService_ReadServer) error {
	schema := s.t.Schema()
	if err := stream.Send(&ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Schema{Schema: schema}}); err != nil {
		return err
	}
	enc, err := tablepb.NewStreamEncoder(schema, tablepb.DefaultBatchBytes)
	if err != nil {
		return err
	}
	n := s.t.NumRows()
	for start := 0; start < n; start += transferBlockRows {
		end := min(start+transferBlockRows, n)
		block := &table.Table{Columns: make([]*table.Column, len(s.t.Columns))}
		for i, c := range s.t.Columns {
			b := *c
			if c.IsCategorical() {
				b.Codes = c.Codes[start:end]
			} else {
				b.Nums = c.Nums[start:end]
			}
			block.Columns[i] = &b
		}
		if err := enc.Encode(block, func(b *datav1.TableBatch) error {
			return stream.Send(&ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Batch{Batch: b}})
		}); err != nil {
			return err
		}
	}
	return stream.Send(&ingestv1.ReadResponse{Part: &ingestv1.ReadResponse_Summary{Summary: &datav1.TableSummary{RowCount: int64(n), Schema: schema}}})
}

// transferTable builds a table of rows rows: 20 numeric columns and a
// categorical label of 3 classes, like the parsed CSV.
func transferTable(rows int) *table.Table {
	rng := rand.New(rand.NewPCG(7, 7))
	t := &table.Table{}
	for j := range genFeatures {
		v := make([]float64, rows)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		t.Columns = append(t.Columns, table.NewNumeric("f"+strconv.Itoa(j), v))
	}
	codes := make([]int32, rows)
	for i := range codes {
		codes[i] = int32(rng.IntN(genClasses))
	}
	t.Columns = append(t.Columns, table.NewCategorical("label", codes, []string{"class_0", "class_1", "class_2"}))
	return t
}

// benchTransfer is benchmark (b): the best of o.repeat transfers of the
// table from a gRPC server to a client on 127.0.0.1 that decodes every
// batch into a table (tablepb.Collector).
func benchTransfer(ctx context.Context, o options) (result, error) {
	t := transferTable(o.transferRows)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	// The services' own server and client settings (serverkit), so the
	// figure is what a stage stream gets.
	srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
	ingestv1.RegisterIngestServiceServer(srv.GRPC, &transferServer{t: t})
	go srv.GRPC.Serve(lis)
	defer srv.GRPC.Stop()
	conn, err := serverkit.Dial(lis.Addr().String())
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	client := ingestv1.NewIngestServiceClient(conn)
	want := tablepb.Digest(t)
	best := time.Duration(1<<63 - 1)
	bestCPU := best
	var payload int64
	for i := range o.repeat {
		logf("(b) transfer %d rows over gRPC, run %d/%d", o.transferRows, i+1, o.repeat)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		cpu0 := cpuTime()
		start := time.Now()
		got, bytes, err := receive(rctx, client)
		d := time.Since(start)
		bestCPU = min(bestCPU, cpuTime()-cpu0)
		cancel()
		if err != nil {
			return result{}, err
		}
		if i == 0 {
			// Check once, outside the timing, that the transfer is exact.
			if tablepb.Digest(got) != want {
				return result{}, fmt.Errorf("the received table differs from the sent one")
			}
		}
		payload = bytes
		best = min(best, d)
	}
	rate := mbps(payload, best)
	return result{
		name:   fmt.Sprintf("(b) table transfer over gRPC on loopback, %d rows × %d columns, %.0f MB of batches (encode + send + decode)", o.transferRows, len(t.Columns), float64(payload)/1e6),
		alur:   fmt.Sprintf("%.0f MB/s (%.3f s); %.0f MB per CPU-second (%.3f s of CPU, both sides)", rate, best.Seconds(), mbps(payload, bestCPU), bestCPU.Seconds()),
		other:  "—",
		ratio:  "—",
		target: "≥ 500 MB/s: " + passFail(rate >= 500),
	}, nil
}

// receive reads one table stream and returns the table and the bytes of
// its batches.
func receive(ctx context.Context, client ingestv1.IngestServiceClient) (*table.Table, int64, error) {
	stream, err := client.Read(ctx, &ingestv1.ReadRequest{})
	if err != nil {
		return nil, 0, err
	}
	var c tablepb.Collector
	var payload int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		switch {
		case msg.GetSchema() != nil:
			err = c.Schema(msg.GetSchema())
		case msg.GetBatch() != nil:
			payload += int64(proto.Size(msg.GetBatch()))
			err = c.Batch(msg.GetBatch())
		}
		if err != nil {
			return nil, 0, err
		}
	}
	t, err := c.Table()
	return t, payload, err
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
