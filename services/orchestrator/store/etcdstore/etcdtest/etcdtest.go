// Package etcdtest starts a real etcd server for tests: the etcd binary
// (Debian's etcd-server package; scripts/install-etcd.sh installs it), one
// member listening on unix sockets in a test's temporary directory, so no
// port is chosen and nothing is reachable from the network.
package etcdtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Binary is the etcd executable: $ALUR_ETCD, else "etcd" on PATH.
func Binary() (string, bool) {
	if p := os.Getenv("ALUR_ETCD"); p != "" {
		return p, true
	}
	p, err := exec.LookPath("etcd")
	return p, err == nil
}

// Server is a running etcd member.
type Server struct {
	// Endpoint is the client URL, unix:///dir/c:1.
	Endpoint string
	cmd      *exec.Cmd
	dir      string
	bin      string
}

// readyWithin bounds how long Start waits for the member to answer; it
// is a failure bound, not a timing assertion.
const readyWithin = 60 * time.Second

// Start runs an etcd member for the test, stopped at cleanup. The test is
// skipped when no etcd binary is installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an etcd process; not in -short mode")
	}
	bin, ok := Binary()
	if !ok {
		t.Skip("etcd is not installed: run scripts/install-etcd.sh (Debian's etcd-server) or set ALUR_ETCD")
	}
	dir := t.TempDir()
	s := &Server{dir: dir, bin: bin, Endpoint: "unix://" + filepath.Join(dir, "c:1")}
	s.start(t, bin)
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start(t testing.TB, bin string) {
	t.Helper()
	// etcd 3.4 wants host:port even for unix sockets, whose file it names
	// so in its working directory.
	cmd := exec.Command(bin,
		"--name", "m", "--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", "unix://c:1", "--advertise-client-urls", "unix://c:1",
		"--listen-peer-urls", "unix://p:1", "--initial-advertise-peer-urls", "unix://p:1",
		"--initial-cluster", "m=unix://p:1",
		"--max-request-bytes", "16777216", "--log-outputs", "stderr", "--logger", "zap")
	cmd.Dir = s.dir
	log, err := os.Create(filepath.Join(s.dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	s.cmd = cmd
	cli := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(rctx, "ready-probe")
		rcancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(s.dir, "etcd.log"))
			t.Fatalf("etcd did not answer within %v: %v\n%s", readyWithin, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns a new client of the member, closed at cleanup.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	// The client's own retry warnings (while the member starts) are noise
	// in test output.
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Restart starts a killed member again on its data directory and waits
// until it answers, as after a crash.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	for _, sock := range []string{"c:1", "p:1"} {
		_ = os.Remove(filepath.Join(s.dir, sock))
	}
	s.start(t, s.bin)
}

// Kill stops the member at once (SIGKILL) and waits for it.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
