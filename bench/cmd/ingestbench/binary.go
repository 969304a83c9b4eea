package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/alur-ml/alur/bench/internal/process"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

// benchBinary is benchmark (c): a CSV of o.gb GB read through the real
// ingest binary, reporting its peak resident memory and the throughput.
func benchBinary(ctx context.Context, o options, dir string) ([]result, error) {
	bin := filepath.Join(dir, "ingest")
	logf("(c) building the ingest binary")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/alur-ml/alur/services/ingest/cmd/ingest")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w", err)
	}
	data := filepath.Join(dir, "data")
	spool := filepath.Join(dir, "spool")
	for _, d := range []string{data, spool} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	want := int64(o.gb * 1e9)
	logf("(c) writing a %.2f GB CSV", float64(want)/1e9)
	rows, size, err := writeCSV(filepath.Join(data, "big.csv"), 0, want)
	if err != nil {
		return nil, err
	}
	defer os.Remove(filepath.Join(data, "big.csv"))
	p, err := process.Start(ctx, bin, "--data-root", data, "--spool-dir", spool,
		"--max-upload-bytes", strconv.FormatInt(size+1, 10))
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	_, idle, err := process.ReadVmHWM(p.PID())
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := ingestv1.NewIngestServiceClient(conn)
	logf("(c) Read of %d rows through the ingest binary at %s", rows, p.Addr)
	rctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	start := time.Now()
	stream, err := client.Read(rctx, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: "big.csv"}})
	if err != nil {
		return nil, err
	}
	var got int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("Read: %w%s", err, p.LogTail())
		}
		got += int64(msg.GetBatch().GetNumRows())
		if s := msg.GetSummary(); s != nil && s.RowCount != int64(rows) {
			return nil, fmt.Errorf("summary says %d rows, want %d", s.RowCount, rows)
		}
	}
	d := time.Since(start)
	if got != int64(rows) {
		return nil, fmt.Errorf("received %d rows, want %d", got, rows)
	}
	hwm, _, err := process.ReadVmHWM(p.PID())
	if err != nil {
		return nil, err
	}
	const mib = 1 << 20
	name := fmt.Sprintf("(c) %.2f GB CSV (%d rows) through the ingest binary: Read over gRPC, batches discarded", float64(size)/1e9, rows)
	return []result{
		{name: name + ": peak RSS (VmHWM)", alur: fmt.Sprintf("%.0f MiB (%.0f MiB idle)", float64(hwm)/mib, float64(idle)/mib), other: "—", ratio: "—", target: "≤ 256 MiB: " + passFail(hwm <= 256*mib)},
		{name: name + ": throughput", alur: fmt.Sprintf("%.1f MB/s (%.1f s)", mbps(size, d), d.Seconds()), other: "—", ratio: "—", target: "—"},
	}, nil
}
