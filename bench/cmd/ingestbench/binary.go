package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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
	p, err := startIngest(ctx, bin, data, spool, size)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	_, idle, err := readVmHWM(p.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := ingestv1.NewIngestServiceClient(conn)
	logf("(c) Read of %d rows through the ingest binary at %s", rows, p.addr)
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
			return nil, fmt.Errorf("Read: %w%s", err, p.logTail())
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
	hwm, _, err := readVmHWM(p.cmd.Process.Pid)
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

// ingestProcess is a running ingest binary.
type ingestProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	mu   sync.Mutex
	tail []string
}

// startIngest runs the binary on 127.0.0.1 (a port of the kernel's
// choosing) and waits for the "serving" log line that names its address.
func startIngest(ctx context.Context, bin, dataRoot, spool string, size int64) (*ingestProcess, error) {
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-root", dataRoot, "--spool-dir", spool,
		"--max-upload-bytes", strconv.FormatInt(size+1, 10))
	cmd.Env = append(os.Environ(), "ALUR_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &ingestProcess{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 5 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			if a, ok := servingAddr(line); ok {
				select {
				case addrc <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before serving%s", bin, p.logTail())
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not report its address within 30s%s", bin, p.logTail())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop asks the process to stop (SIGTERM, a graceful stop) and kills it
// after 10 seconds.
func (p *ingestProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail formats the last log lines for an error message.
func (p *ingestProcess) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return "; its log ends:\n  " + strings.Join(p.tail, "\n  ")
}

// servingAddr returns the addr field of serverkit's "serving" log line,
// a slog text line such as `level=INFO msg=serving service=ingest
// addr=127.0.0.1:40123`.
func servingAddr(line string) (string, bool) {
	fields := strings.Fields(line)
	if !slices.Contains(fields, "msg=serving") {
		return "", false
	}
	for _, f := range fields {
		if a, ok := strings.CutPrefix(f, "addr="); ok && a != "" {
			return strings.Trim(a, `"`), true
		}
	}
	return "", false
}

// readVmHWM returns a process's peak resident set size (VmHWM) and its
// current one (VmRSS), in bytes, from /proc/PID/status (see proc(5)).
func readVmHWM(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	return parseVmStatus(string(b))
}

// parseVmStatus reads the "VmHWM:\t 123 kB" and VmRSS lines of a
// /proc/PID/status text.
func parseVmStatus(status string) (hwm, rss int64, err error) {
	seen := false
	for line := range strings.Lines(status) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("malformed %s line %q", key, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, 0, fmt.Errorf("malformed %s value %q", key, f[0])
		}
		if key == "VmHWM" {
			hwm, seen = kb*1024, true
		} else {
			rss = kb * 1024
		}
	}
	if !seen {
		return 0, 0, errors.New("no VmHWM line in the process status")
	}
	return hwm, rss, nil
}
