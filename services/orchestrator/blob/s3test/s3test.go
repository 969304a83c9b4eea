// Package s3test starts an S3-compatible server for tests: the s3server
// binary (internal/tools/s3server, gofakes3 over a bbolt file;
// scripts/install-s3.sh builds it into ./bin), as a separate process on
// a loopback port it picks itself, behind an HTTP proxy the test owns.
// The proxy keeps one address for the server's whole life, so a test can
// stop the server (an object-store outage: each connection is dropped
// unanswered) and start it again on another port with the same objects,
// and the clients never learn of the move. The proxy can also stop the
// server itself after a given number of object writes, so an outage
// lands at a known point of a run.
package s3test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Bucket is the bucket the server creates at start.
const Bucket = "alur"

// Binary is the s3server executable: $ALUR_S3SERVER, else "s3server" on
// PATH.
func Binary() (string, bool) {
	if p := os.Getenv("ALUR_S3SERVER"); p != "" {
		return p, true
	}
	p, err := exec.LookPath("s3server")
	return p, err == nil
}

// readyWithin bounds how long a start waits for the server's address; a
// failure bound, not a timing assertion.
const readyWithin = 60 * time.Second

// Server is a running s3server behind its proxy.
type Server struct {
	// Endpoint is the proxy's URL, http://127.0.0.1:port.
	Endpoint string
	bin, dir string
	lis      net.Listener

	mu      sync.Mutex
	proc    *os.Process
	exited  chan error // receives the running process's end
	backend string     // the server's address; "" while stopped
	starts  int

	puts      int64 // successful PUTs relayed
	stopAfter int64 // stop once puts reaches it (0: never)

	refused atomic.Int64
}

// Start runs an s3server for the test, stopped at cleanup. The test is
// skipped in -short mode or when no s3server binary is installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an s3server process; not in -short mode")
	}
	bin, ok := Binary()
	if !ok {
		t.Skip("s3server is not installed: run scripts/install-s3.sh (or set ALUR_S3SERVER)")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Endpoint: "http://" + lis.Addr().String(), bin: bin, dir: t.TempDir(), lis: lis}
	go s.serve()
	t.Cleanup(func() {
		s.Stop()
		lis.Close()
	})
	s.Restart(t)
	return s
}

// URL is the blob store URL of the bucket, with prefix as the key prefix
// ("" for none).
func (s *Server) URL(prefix string) string {
	u := url.URL{Scheme: "s3", Host: Bucket, Path: "/" + prefix}
	u.RawQuery = url.Values{"endpoint": {s.Endpoint}, "region": {"us-east-1"}}.Encode()
	return u.String()
}

// Stop kills the server (SIGKILL: an outage, not a shutdown). Until
// Restart the proxy accepts connections and closes them at once.
func (s *Server) Stop() {
	s.mu.Lock()
	proc, exited := s.proc, s.exited
	s.proc, s.exited, s.backend = nil, nil, ""
	s.mu.Unlock()
	if proc != nil {
		_ = proc.Kill()
		<-exited
	}
}

// Restart starts the server (again), on its same bbolt file, and points
// the proxy at it once it serves.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	s.starts++
	n := s.starts
	s.mu.Unlock()
	ready := filepath.Join(s.dir, "ready-"+strconv.Itoa(n))
	cmd := exec.Command(s.bin, "--addr", "127.0.0.1:0", "--db", filepath.Join(s.dir, "s3.db"),
		"--bucket", Bucket, "--ready-file", ready)
	log, err := os.OpenFile(filepath.Join(s.dir, "s3server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start s3server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(readyWithin)
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			s.mu.Lock()
			s.proc, s.exited, s.backend = cmd.Process, exited, string(b)
			s.mu.Unlock()
			return
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(filepath.Join(s.dir, "s3server.log"))
			t.Fatalf("s3server exited before serving: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("s3server did not serve within %s", readyWithin)
		}
	}
}

// Refused counts the requests the proxy turned away while the server was
// stopped: a client that tried the store during an outage.
func (s *Server) Refused() int64 { return s.refused.Load() }

// StopAfterPuts arms an outage at a known point: once n more object
// writes (PUT requests the server answered with success) have been
// relayed to their clients, the server is stopped, as Stop does. So a
// test can cut the store off in the middle of a run, after its first
// artifacts, without racing it.
func (s *Server) StopAfterPuts(n int64) {
	s.mu.Lock()
	s.stopAfter = s.puts + n
	s.mu.Unlock()
}

// serve relays requests to the server, or, while it is stopped, drops
// each connection unanswered, as a host with nothing listening would.
func (s *Server) serve() {
	srv := &http.Server{Handler: http.HandlerFunc(s.relay), ReadHeaderTimeout: readyWithin}
	_ = srv.Serve(s.lis)
}

// relay passes one request to the server, stopping the server afterwards
// when StopAfterPuts says so.
func (s *Server) relay(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	backend := s.backend
	s.mu.Unlock()
	if backend == "" {
		s.refused.Add(1)
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: backend})
			pr.Out.Host = pr.In.Host // as signed by the client
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			s.refused.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(rec, r)
	if r.Method != http.MethodPut || rec.code >= 300 {
		return
	}
	s.mu.Lock()
	s.puts++
	stop := s.stopAfter > 0 && s.puts >= s.stopAfter
	if stop {
		s.stopAfter = 0
	}
	s.mu.Unlock()
	if stop {
		s.Stop()
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Client is a plain S3 client of the server, for tests that reach past
// the blob store (to damage an object, say).
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4("test", "test", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// Put stores content under key, bypassing the blob store.
func (s *Server) Put(t testing.TB, key string, content []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	if _, err := s.Client(t).PutObject(ctx, Bucket, key, bytes.NewReader(content), int64(len(content)), minio.PutObjectOptions{SendContentMd5: true, DisableContentSha256: true}); err != nil {
		t.Fatalf("put %s (%d bytes): %v", key, len(content), err)
	}
}

// Get returns the content under key, bypassing the blob store.
func (s *Server) Get(t testing.TB, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	obj, err := s.Client(t).GetObject(ctx, Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}
