package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

// binaries maps each program to its package, relative to the repo root.
var binaries = map[string]string{
	"alur":         "./cmd/alur",
	"ingest":       "./services/ingest/cmd/ingest",
	"prep":         "./services/prep/cmd/prep",
	"train":        "./services/train/cmd/train",
	"eval":         "./services/eval/cmd/eval",
	"orchestrator": "./services/orchestrator/cmd/orchestrator",
	"serve":        "./services/serve/cmd/serve",
}

// services are the five servers of a cluster, in start order: the stages
// first, so the orchestrator can resume runs against them at once.
var services = []string{"ingest", "prep", "train", "eval", "orchestrator"}

// The binaries are built once per test binary, by the first test that
// needs them, into a directory TestMain removes at the end.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// build compiles the six binaries once and returns their directory.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "alur-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		args := []string{"build", "-o", dir + "/"}
		for _, pkg := range binaries {
			args = append(args, pkg)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// anyPort asks for a loopback port the kernel picks: a process started on
// it reports the port it got through its --ready-file.
const anyPort = "127.0.0.1:0"

// serviceNames maps each server to the gRPC service it registers, so a
// health check proves the process at an address is the one started there,
// not any gRPC server that happens to hold the port.
var serviceNames = map[string]string{
	"ingest":       "alur.ingest.v1.IngestService",
	"prep":         "alur.prep.v1.PrepService",
	"train":        "alur.train.v1.TrainService",
	"eval":         "alur.eval.v1.EvalService",
	"orchestrator": "alur.orchestrator.v1.OrchestratorService",
	"serve":        "inference.GRPCInferenceService",
}

// logBuffer collects a process's output; it is safe to read while the
// process writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the logged lines that contain every one of subs.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// proc is one service binary running as a child process. It can be killed
// and started again on the same address with the same (or changed) flags.
type proc struct {
	name, bin, addr string
	args            []string
	log             *logBuffer
	// metricsAddr is where the process serves Prometheus metrics: every
	// process gets an endpoint on a port the kernel picks.
	metricsAddr string

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	err  error         // cmd's exit status, valid after done
}

// startProc starts a service on addr with args and waits until it answers
// health checks for its own service. With addr anyPort the kernel picks
// the port and p.addr is the address the process reported; a restart
// reuses it. The test's cleanup stops it if it is still running.
func startProc(t *testing.T, name, addr string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, bin: filepath.Join(build(t), name), addr: addr, args: args, log: &logBuffer{}}
	p.start(t)
	t.Cleanup(func() {
		if p.running() {
			p.stop(t)
		}
	})
	return p
}

// start launches the process and waits until it answers SERVING for its
// own service.
func (p *proc) start(t *testing.T) {
	t.Helper()
	p.launch(t)
	waitServing(t, p.addr, p.name, p.log)
}

// launch starts the process and waits until it listens, setting p.addr to
// the address it reported, but not until it answers SERVING: a service
// that waits for a dependency (serve for the orchestrator) listens first.
func (p *proc) launch(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	ready, metricsReady := filepath.Join(dir, p.name+".addr"), filepath.Join(dir, p.name+".metrics")
	flags := []string{"--addr", p.addr, "--ready-file", ready, "--metrics-addr", anyPort, "--metrics-ready-file", metricsReady}
	cmd := exec.Command(p.bin, append(flags, p.args...)...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	p.addr = p.waitReady(t, ready)
	// The metrics address is written before the server's own.
	maddr, err := serverkit.ReadReadyFile(metricsReady)
	if err != nil {
		t.Fatalf("%s: metrics ready file: %v", p.name, err)
	}
	p.metricsAddr = maddr
}

// counter returns the sum of the Prometheus counter name over the series
// whose labels include every pair in labels, read from the process's
// metrics endpoint (0 when no series matches yet).
func (p *proc) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("%s metrics: %v", p.name, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s metrics: %v", p.name, err)
	}
	var sum float64
	for _, m := range families[name].GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(labels) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// waitReady waits for the process to write the address it listens on to
// its ready file, and returns it; it fails the test if the process exits
// first.
func (p *proc) waitReady(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		addr, err := serverkit.ReadReadyFile(path)
		if err == nil {
			return addr
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %v", p.name, err)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before listening: %v\n%s", p.name, p.err, p.log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote no ready file within 30s\n%s", p.name, p.log)
		}
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// kill sends SIGKILL, as a crash would, and waits for the process to go.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and checks the process exits cleanly within 15 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM\n%s", p.name, p.err, p.log)
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 15s of SIGTERM", p.name)
	}
}

// restart starts the process again on its address, with args replacing
// its flags when not nil.
func (p *proc) restart(t *testing.T, args []string) {
	t.Helper()
	if p.running() {
		t.Fatalf("restart %s: still running", p.name)
	}
	if args != nil {
		p.args = args
	}
	p.start(t)
}

// status reads a field of /proc/PID/status in kB, such as VmHWM (the peak
// resident set) or VmRSS.
func (p *proc) status(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		t.Skipf("no /proc status for %s: %v", p.name, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse %s %q: %v", field, l, err)
			}
			return n
		}
	}
	t.Fatalf("%s: no %s in /proc status", p.name, field)
	return 0
}

// cpuTime is the CPU time the process has used so far (user + system),
// from /proc/PID/stat, in clock ticks of 1/100 s.
func (p *proc) cpuTime(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		t.Skipf("no /proc stat for %s: %v", p.name, err)
	}
	// The command name, field 2, may contain spaces: fields count from
	// the closing parenthesis. utime and stime are fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("parse /proc stat %q: %v", s, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// cluster is the five services running as processes on loopback.
type cluster struct {
	bin      string
	dataDir  string // the orchestrator's --data-dir
	dataRoot string // ingest's --data-root
	addrs    map[string]string
	procs    map[string]*proc
	conn     *grpc.ClientConn
	client   orchestratorv1.OrchestratorServiceClient
}

// startCluster starts the five services. extra adds flags per service; the
// addresses, ingest's data root (holding tiny.csv) and the orchestrator's
// data directory are set here.
func startCluster(t *testing.T, extra map[string][]string) *cluster {
	t.Helper()
	c := &cluster{bin: build(t), dataDir: t.TempDir(), dataRoot: t.TempDir(), addrs: map[string]string{}, procs: map[string]*proc{}}
	if err := os.WriteFile(filepath.Join(c.dataRoot, "tiny.csv"), []byte(tinyCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	// The stages start first, so the orchestrator is given the addresses
	// they reported.
	for _, name := range services {
		c.procs[name] = startProc(t, name, anyPort, c.args(name, extra[name])...)
		c.addrs[name] = c.procs[name].addr
	}
	c.dial(t)
	t.Cleanup(func() {
		if c.conn != nil {
			_ = c.conn.Close()
		}
	})
	return c
}

// args returns a service's flags: the cluster's wiring, then extra.
func (c *cluster) args(name string, extra []string) []string {
	var args []string
	switch name {
	case "ingest":
		args = []string{"--data-root", c.dataRoot}
	case "orchestrator":
		args = orchestratorArgs(c.dataDir, c.addrs)
	}
	return append(args, extra...)
}

// orchestratorArgs wires an orchestrator to the stages in addrs. The web
// dashboard is off (--http=): several orchestrators run at once here, and
// the default port may be taken on the machine.
func orchestratorArgs(dataDir string, addrs map[string]string) []string {
	return []string{"--data-dir", dataDir, "--http=", "--ingest", addrs["ingest"], "--prep", addrs["prep"],
		"--train", addrs["train"], "--eval", addrs["eval"]}
}

// dial (re)connects the cluster's orchestrator client, after a restart
// too, so calls do not wait out the old connection's reconnect backoff.
func (c *cluster) dial(t *testing.T) {
	t.Helper()
	if c.conn != nil {
		_ = c.conn.Close()
	}
	conn, err := serverkit.Dial(c.addrs["orchestrator"], clusterDialOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	c.conn, c.client = conn, orchestratorv1.NewOrchestratorServiceClient(conn)
}

// restartOrchestrator starts the orchestrator again on the same data
// directory after it stopped; extra, when not nil, replaces its extra
// flags.
func (c *cluster) restartOrchestrator(t *testing.T, extra []string) {
	t.Helper()
	var args []string
	if extra != nil {
		args = c.args("orchestrator", extra)
	}
	c.procs["orchestrator"].restart(t, args)
	c.dial(t)
}

// stageConn dials one of the stage services directly.
func (c *cluster) stageConn(t *testing.T, name string) *grpc.ClientConn {
	t.Helper()
	conn, err := serverkit.Dial(c.addrs[name])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// waitServing waits until the server at addr answers health checks for
// name's own service (serviceNames): any other gRPC server there answers
// NOT_FOUND for it and fails the test after 30 s.
func waitServing(t *testing.T, addr, name string, logs fmt.Stringer) {
	t.Helper()
	// A short reconnect backoff: the default waits a second after the
	// first refused connection, which would dominate every restart.
	conn, err := serverkit.Dial(addr, append(clusterDialOpts(), grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	service, ok := serviceNames[name]
	if !ok {
		t.Fatalf("no gRPC service name known for %s", name)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if healthyService(conn, service) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s at %s never answered SERVING for %s\n%s", name, addr, service, logs)
}

// healthy reports whether the server behind conn answers SERVING.
func healthy(conn *grpc.ClientConn) bool { return healthyService(conn, "") }

// healthyService reports whether the server behind conn answers SERVING
// for service ("" is the server as a whole).
func healthyService(conn *grpc.ClientConn, service string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// waitRun follows WatchRun until the run ends and returns the final run.
func waitRun(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string) *orchestratorv1.Run {
	t.Helper()
	run, err := awaitRun(client, id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// awaitRun is waitRun for any goroutine: it returns its failure.
func awaitRun(client orchestratorv1.OrchestratorServiceClient, id string) (*orchestratorv1.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	events, err := watchAll(ctx, client, id)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("run %s: WatchRun sent no events", id)
	}
	resp, err := client.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return resp.GetRun(), nil
}

// runEvents follows WatchRun to the end of the run and returns every
// event, the recorded ones first.
func runEvents(t *testing.T, ctx context.Context, client orchestratorv1.OrchestratorServiceClient, id string) []*orchestratorv1.RunEvent {
	t.Helper()
	events, err := watchAll(ctx, client, id)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func watchAll(ctx context.Context, client orchestratorv1.OrchestratorServiceClient, id string) ([]*orchestratorv1.RunEvent, error) {
	stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id}, grpc.WaitForReady(true))
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", id, err)
	}
	var events []*orchestratorv1.RunEvent
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", id, err)
		}
		events = append(events, m.GetEvent())
	}
}

// waitEvent follows a run's events until one satisfies match, and returns
// it; it fails the test if the run ends first.
func waitEvent(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string, match func(*orchestratorv1.RunEvent) bool) *orchestratorv1.RunEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("run %s: no matching event before %v; events:\n%s", id, err, strings.Join(seen, "\n"))
		}
		if match(m.GetEvent()) {
			return m.GetEvent()
		}
		seen = append(seen, m.GetEvent().GetMessage())
	}
}

// secureDialOpts, when set, are the dial options a secure cluster's
// clients need (TLS with a client certificate and the bearer token); the
// health checks and the orchestrator client of the helpers use them.
var (
	secureMu       sync.Mutex
	secureDialOpts []grpc.DialOption
)

func clusterDialOpts() []grpc.DialOption {
	secureMu.Lock()
	defer secureMu.Unlock()
	return secureDialOpts
}
