package serverkit

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// TestReadyFile: a server on port 0 writes the address it got to the
// ready file; a client reaches that very service there (its health names
// the service), and the file is removed at exit.
func TestReadyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, slog.New(slog.DiscardHandler), "train", "127.0.0.1:0", &Options{ReadyFile: path},
			func(s *grpc.Server) error { trainv1.RegisterTrainServiceServer(s, echoTrain{}); return nil })
	}()
	var addr string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		a, err := ReadReadyFile(path)
		if err == nil {
			addr = a
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("ready file: %v", err)
		}
	}
	conn, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	resp, err := healthpb.NewHealthClient(conn).Check(hctx, &healthpb.HealthCheckRequest{Service: "alur.train.v1.TrainService"}, grpc.WaitForReady(true))
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health of the train service at %s: %v %v", addr, resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ready file after exit: %v", err)
	}
	if err := WriteReadyFile(path, "not an address"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReadyFile(path); err == nil {
		t.Fatal("a malformed ready file was accepted")
	}
}

// TestMetricsReadyFile: with --metrics-addr on port 0 the metrics address
// is in its ready file by the time the server's own ready file appears, and
// /metrics answers there; both files are removed at exit.
func TestMetricsReadyFile(t *testing.T) {
	dir := t.TempDir()
	ready, metricsReady := filepath.Join(dir, "addr"), filepath.Join(dir, "metrics")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		o := &Options{ReadyFile: ready, MetricsAddr: "127.0.0.1:0", MetricsReadyFile: metricsReady}
		done <- run(ctx, slog.New(slog.DiscardHandler), "train", "127.0.0.1:0", o,
			func(s *grpc.Server) error { trainv1.RegisterTrainServiceServer(s, echoTrain{}); return nil })
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, err := ReadReadyFile(ready)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("ready file: %v", err)
		}
	}
	maddr, err := ReadReadyFile(metricsReady)
	if err != nil {
		t.Fatalf("metrics ready file once the server's ready file is written: %v", err)
	}
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "grpc_server_handled_total") && !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("GET /metrics at %s: %s\n%.300s", maddr, resp.Status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ready, metricsReady} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after exit: %v", filepath.Base(p), err)
		}
	}
}
