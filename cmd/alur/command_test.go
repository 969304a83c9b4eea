package main

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"Commands:", "demo", "dev", "run", "runs", "predict"}},
		{[]string{"--help"}, []string{"Commands:"}},
		{[]string{"run", "-h"}, []string{"alur run -f SPEC", "source.path", "NOT uploaded", "-csv", "-server", "-timeout"}},
		{[]string{"help", "runs"}, []string{"alur runs list", "alur runs show ID"}},
		{[]string{"runs", "show", "-h"}, []string{"alur runs show ID", "-json"}},
		{[]string{"predict", "--help"}, []string{"--row", "-csv"}},
		{[]string{"dev", "-h"}, []string{"localhost:7000", "-data-root"}},
		{[]string{"demo", "-h"}, []string{"breast_cancer", "-data-dir"}},
	} {
		a, out, errb := newTestApp(nil)
		if code := runMain(context.Background(), tc.args, a); code != exitOK {
			t.Errorf("%v: exit %d, stderr %s", tc.args, code, errb)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: help lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte("source: {bundled: iris}\nlabel: species\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Commands:"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"run"}, "give -f SPEC, or --csv FILE --label COL"},
		{[]string{"run", "-f", spec, "--csv", "a.csv"}, "not both"},
		{[]string{"run", "-f", spec, "--seed", "3"}, "--seed belongs to the short form"},
		{[]string{"run", "--csv", "a.csv"}, "--label is required"},
		{[]string{"run", "--csv", "a.csv", "--label", "y", "--task", "ranking"}, "--task"},
		{[]string{"run", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"run", "--max-trials", "x"}, "invalid value"},
		{[]string{"run", "--csv", "a.csv", "--label", "y", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"run", "--csv", "a.csv", "--label", "y", "extra"}, `unexpected argument "extra"`},
		{[]string{"runs"}, "missing subcommand"},
		{[]string{"runs", "frob"}, `unknown subcommand "frob"`},
		{[]string{"runs", "show"}, "missing run ID"},
		{[]string{"runs", "show", "a", "b"}, `unexpected argument "b"`},
		{[]string{"runs", "list", "--limit", "0"}, "--limit must be positive"},
		{[]string{"predict", "--row", "a=1"}, "--run is required"},
		{[]string{"predict", "--run", "r"}, "give --csv FILE or at least one --row"},
		{[]string{"predict", "--run", "r", "--csv", "x.csv", "--row", "a=1"}, "not both"},
		{[]string{"predict", "--run", "r", "--row", "a=1,a=2"}, "given twice"},
		{[]string{"demo", "--dataset", "mnist"}, `unknown dataset "mnist"`},
		{[]string{"dev", "--data-dir", ""}, "--data-dir must not be empty"},
	} {
		a, _, errb := newTestApp(nil)
		if code := runMain(context.Background(), tc.args, a); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, exitUsage, errb)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errb, tc.want)
		}
	}
}

func TestParseFlagsInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantPos  []string
		wantJSON bool
	}{
		{[]string{"ID", "--json"}, []string{"ID"}, true},
		{[]string{"--json", "ID"}, []string{"ID"}, true},
		{[]string{"A", "--json", "B"}, []string{"A", "B"}, true},
		{[]string{"--", "--json"}, []string{"--json"}, false},
		{[]string{"A", "--", "-x"}, []string{"A", "-x"}, false},
		{nil, nil, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		a, _, _ := newTestApp(nil)
		pos, err := parseFlags(a, fs, "usage", tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !slices.Equal(pos, tc.wantPos) || *asJSON != tc.wantJSON {
			t.Errorf("%v: positional %q json %v; want %q %v", tc.args, pos, *asJSON, tc.wantPos, tc.wantJSON)
		}
	}
}

func TestServerDefaultFromEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, func(k string) string {
		if k == serverEnv {
			return "orch.internal:9000"
		}
		return ""
	})
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if cf.server != "orch.internal:9000" || cf.timeout != defaultTimeout {
		t.Errorf("defaults = %q, %v", cf.server, cf.timeout)
	}
	if err := fs.Parse([]string{"--server", "x:1", "--timeout", "2s"}); err != nil {
		t.Fatal(err)
	}
	if cf.server != "x:1" || cf.timeout.Seconds() != 2 {
		t.Errorf("flags = %q, %v", cf.server, cf.timeout)
	}
}

// writeCSV writes a CSV of at least size bytes and returns its path.
func writeCSV(t *testing.T, size int) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("x1,x2,label\n")
	for i := 0; b.Len() < size; i++ {
		b.WriteString("1.5,2.25,yes\n")
	}
	path := filepath.Join(t.TempDir(), "churn.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunShortForm(t *testing.T) {
	f := newFake()
	addr := startFake(t, f)
	csvPath := writeCSV(t, 1200<<10) // three chunks: 512 + 512 + 176 KiB
	a, out, errb := newTestApp(map[string]string{serverEnv: addr})
	code := runMain(context.Background(), []string{"run", "--csv", csvPath, "--label", "label",
		"--algorithms", "random_forest,knn", "--target", "0.95", "--max-trials", "4"}, a)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb)
	}
	data, _ := os.ReadFile(csvPath)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.uploadName != "churn.csv" || !bytes.Equal(f.uploaded, data) {
		t.Errorf("upload: name %q, %d bytes (want %d)", f.uploadName, len(f.uploaded), len(data))
	}
	if !slices.Equal(f.uploadChunks, []int{512 << 10, 512 << 10, len(data) - 1024<<10}) {
		t.Errorf("chunks = %v", f.uploadChunks)
	}
	spec := f.started
	if spec.GetSource().GetUpload() == "" || spec.GetLabel() != "label" || spec.GetName() != "churn" ||
		len(spec.GetCandidates()) != 2 || spec.GetObjective().GetTarget() != 0.95 || spec.GetMaxTrials() != 4 || spec.GetSeed() != 42 {
		t.Errorf("started spec = %v", spec)
	}
	got := squeeze(out.String())
	for _, want := range []string{
		"Run run-7: upload churn.csv (",
		" collect collected 150 rows\n",
		" evaluate/2 trial 2 random_forest max_depth=8, n_trees=100 validation accuracy 0.9667 (fit 1.2s) [2 trials, best 2 (0.9667)]\n",
		"Leaderboard:", "* 1 2 random_forest max_depth=8 0.9667 0.1234 1.2s",
		" accuracy 0.9667\n", "Confusion matrix",
		"Details: alur runs show run-7",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunVerbose checks that a fold's step events print only with -v
// (or --verbose), while each trial's line prints either way.
func TestRunVerbose(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		folds bool
	}{
		{nil, false},
		{[]string{"-v"}, true},
		{[]string{"--verbose"}, true},
	} {
		f := newFake()
		addr := startFake(t, f)
		a, out, errb := newTestApp(map[string]string{serverEnv: addr})
		args := append([]string{"run", "--dataset", "sales", "--label", "churned"}, tc.flags...)
		if code := runMain(context.Background(), args, a); code != exitOK {
			t.Fatalf("%v: exit %d, stderr:\n%s", tc.flags, code, errb)
		}
		got := squeeze(out.String())
		if has := strings.Contains(got, " train/1/fold1 done in 5ms\n"); has != tc.folds {
			t.Errorf("%v: fold line shown %v, want %v:\n%s", tc.flags, has, tc.folds, out)
		}
		if !strings.Contains(got, " evaluate/2 trial 2 random_forest") {
			t.Errorf("%v: no trial line:\n%s", tc.flags, out)
		}
	}
}

func TestRunSpecFileJSON(t *testing.T) {
	f := newFake()
	addr := startFake(t, f)
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(spec, []byte(specYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	a, out, errb := newTestApp(nil)
	code := runMain(context.Background(), []string{"run", "-f", spec, "--json", "--server", addr}, a)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb)
	}
	var run orchestratorv1.Run
	if err := protojson.Unmarshal(out.Bytes(), &run); err != nil {
		t.Fatalf("stdout is not a Run: %v\n%s", err, out)
	}
	if run.GetId() != "run-7" || run.GetBestTrial() != 2 || !proto.Equal(run.GetSpec(), wantSpec()) {
		t.Errorf("run = %v", &run)
	}
	if !strings.Contains(out.String(), "\n  \"id\"") {
		t.Errorf("JSON is not indented by two spaces:\n%s", out)
	}
}

func TestRunFailedExitsOne(t *testing.T) {
	for _, tc := range []struct {
		state orchestratorv1.RunState
		err   string
		want  string
	}{
		{orchestratorv1.RunState_RUN_STATE_FAILED, "collect: column \"label\" not found", "alur: run run-7 failed: collect: column \"label\" not found"},
		{orchestratorv1.RunState_RUN_STATE_CANCELLED, "", "alur: run run-7 cancelled: cancelled by a client"},
	} {
		f := newFake()
		f.final.State = tc.state
		f.final.Error = tc.err
		addr := startFake(t, f)
		a, _, errb := newTestApp(nil)
		code := runMain(context.Background(), []string{"run", "-f", writeSpec(t), "--server", addr}, a)
		if code != exitFailure {
			t.Errorf("%v: exit %d, want 1", tc.state, code)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.state, errb, tc.want)
		}
	}
}

func writeSpec(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(path, []byte(specJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunInvalidArgument(t *testing.T) {
	f := newFake()
	f.startErr = serverkit.InvalidArgument("spec.label", `column "foo" not found (available: a, b, c)`)
	addr := startFake(t, f)
	a, _, errb := newTestApp(nil)
	code := runMain(context.Background(), []string{"run", "-f", writeSpec(t), "--server", addr}, a)
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "alur: invalid argument: spec.label: column \"foo\" not found (available: a, b, c)\n"; errb.String() != want {
		t.Errorf("stderr = %q, want %q", errb, want)
	}
}

func TestUnavailable(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	a, _, errb := newTestApp(nil)
	code := runMain(context.Background(), []string{"runs", "list", "--server", addr, "--timeout", "10s"}, a)
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "alur: cannot reach the orchestrator at " + addr + ": is `alur dev` running?"; !strings.HasPrefix(errb.String(), want) {
		t.Errorf("stderr = %q, want prefix %q", errb, want)
	}
}

func TestWatchReconnects(t *testing.T) {
	f := newFake()
	f.breakWatchAfter = 3
	addr := startFake(t, f)
	a, out, errb := newTestApp(nil)
	code := runMain(context.Background(), []string{"run", "-f", writeSpec(t), "--server", addr}, a)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb)
	}
	if f.watchCalls != 2 {
		t.Errorf("WatchRun called %d times, want 2", f.watchCalls)
	}
	// Every event printed once, although the second stream replayed the
	// first three.
	for _, ev := range []string{"collected 150 rows", "profiled 5 columns", "prepared 90/30/30 rows", "tested trial 2"} {
		if n := strings.Count(out.String(), ev); n != 1 {
			t.Errorf("%q printed %d times:\n%s", ev, n, out)
		}
	}
}

func TestRunsListAndShow(t *testing.T) {
	f := newFake()
	addr := startFake(t, f)

	a, out, errb := newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"runs", "list", "--limit", "3"}, a); code != exitOK {
		t.Fatalf("list: exit %d: %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[3], "run-7") {
		t.Errorf("list output:\n%s", out)
	}
	if !slices.Equal(f.pageSizes, []int32{3, 1}) {
		t.Errorf("page sizes = %v, want [3 1] (the fake serves pages of 2)", f.pageSizes)
	}

	a, out, errb = newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"runs", "list", "--json"}, a); code != exitOK {
		t.Fatalf("list --json: exit %d: %s", code, errb)
	}
	var list orchestratorv1.ListRunsResponse
	if err := protojson.Unmarshal(out.Bytes(), &list); err != nil || len(list.GetRuns()) != 5 {
		t.Errorf("list --json: %v, %d runs", err, len(list.GetRuns()))
	}

	a, out, errb = newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"runs", "show", "run-7"}, a); code != exitOK {
		t.Fatalf("show: exit %d: %s", code, errb)
	}
	for _, want := range []string{"Run", "run-7", "Steps:", "Leaderboard:", "Test metrics", "Artifacts:", strings.Repeat("ab", 32)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	a, out, errb = newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"runs", "show", "run-7", "--json"}, a); code != exitOK {
		t.Fatalf("show --json: exit %d: %s", code, errb)
	}
	var run orchestratorv1.Run
	if err := protojson.Unmarshal(out.Bytes(), &run); err != nil || run.GetId() != "run-7" {
		t.Errorf("show --json: %v, %v", err, &run)
	}

	a, _, errb = newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"runs", "show", "nope"}, a); code != exitFailure {
		t.Errorf("show nope: exit %d", code)
	}
	if want := "alur: not found: run \"nope\" not found\n"; errb.String() != want {
		t.Errorf("show nope: stderr %q, want %q", errb, want)
	}
}

func TestPredict(t *testing.T) {
	f := newFake()
	addr := startFake(t, f)
	a, out, errb := newTestApp(map[string]string{serverEnv: addr})
	code := runMain(context.Background(), []string{"predict", "--run", "run-7", "--row", "x1=1,x2=2", "--row", "x1=3"}, a)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if got, want := squeeze(out.String()), "no p=1.0000\nno p=0.9000\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}

	// A large CSV goes out in several calls, answered in order.
	var b bytes.Buffer
	b.WriteString("x1,note\n")
	const rows = 5000
	for range rows {
		b.WriteString("1.5," + strings.Repeat("n", 200) + "\n")
	}
	path := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	a, out, errb = newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"predict", "--run", "run-7", "--csv", path, "--json"}, a); code != exitOK {
		t.Fatalf("csv: exit %d: %s", code, errb)
	}
	var resp orchestratorv1.PredictResponse
	if err := protojson.Unmarshal(out.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.GetPredictions()) != rows || !slices.Equal(resp.GetClassNames(), []string{"no", "yes"}) {
		t.Errorf("got %d predictions, classes %v", len(resp.GetPredictions()), resp.GetClassNames())
	}
	if f.predictCalls < 3 || f.predictRows != rows+2 {
		t.Errorf("predict calls %d rows %d; want the CSV split over several calls", f.predictCalls, f.predictRows)
	}

	a, _, errb = newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"predict", "--run", "r0", "--row", "x1=1"}, a); code != exitFailure {
		t.Errorf("unknown run: exit %d", code)
	}
	if !strings.Contains(errb.String(), "not found") {
		t.Errorf("unknown run: stderr %q", errb)
	}
}

func TestInterruptedWatch(t *testing.T) {
	f := newFake()
	addr := startFake(t, f)
	c, err := dialClient(addr, defaultTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a, _, errb := newTestApp(nil)
	_, err = c.followRun(ctx, "run-7", nil)
	if code := a.exitStatus(ctx, err); code != exitInterrupted {
		t.Errorf("exit %d (err %v), want %d", code, err, exitInterrupted)
	}
	if !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("stderr %q", errb)
	}
	if status.Code(err) == codes.Unavailable {
		t.Errorf("cancellation reported as Unavailable: %v", err)
	}
}
