package main

import (
	"bytes"
	"context"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/stack"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file start the real services in process.

func TestDemoIris(t *testing.T) {
	if testing.Short() {
		t.Skip("trains every classifier on iris")
	}
	dir := t.TempDir()
	a, out, errb := newTestApp(nil)
	code := runMain(context.Background(), []string{"demo", "--data-dir", dir}, a)
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}
	got := out.String()
	for _, want := range []string{
		"Services: orchestrator 127.0.0.1:",
		"Run ", "bundled iris, label species",
		"collect", "profile", "prepare", "trial/1", "trial 1", "search", "refit", "test",
		"Leaderboard:", "VALIDATION ACCURACY", "* best: trial",
		"Test metrics (trial", "accuracy", "f1_macro", "log_loss", "roc_auc",
		"Confusion matrix", "setosa", "versicolor", "virginica",
		"Run ID:", "alur.db (bbolt)", "alur runs show ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Each trial's line ends with the search's progress, time left included.
	if !regexp.MustCompile(`(?m)trial 1 .*\[1 trial, best 1 \([0-9.]+\), [0-9ms]+ left\]$`).MatchString(got) {
		t.Error("trial 1's line lacks the search's progress")
	}
	// Without -v, a trial is one line: its folds' steps are not shown.
	if strings.Contains(got, "/fold") {
		t.Error("demo output shows fold steps without -v")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", got, errb)
	}
	// Iris is easy: the winner scores well above chance on the test rows.
	m := regexp.MustCompile(`(?m)^\s+accuracy\s+([0-9.]+)$`).FindStringSubmatch(got)
	if m == nil {
		t.Error("no test accuracy in the output")
	} else if acc, err := strconv.ParseFloat(m[1], 64); err != nil || acc < 0.8 {
		t.Errorf("test accuracy %s, want at least 0.8", m[1])
	}
	id := regexp.MustCompile(`(?m)^Run ID:\s+(\S+)$`).FindStringSubmatch(got)
	if id == nil {
		t.Fatal("no run ID in the output")
	}

	// The artifacts outlive the demo: serve the same data directory again
	// and query the run, as the demo's hint says.
	st := alurtest.Start(t, stack.Config{DataDir: dir})
	env := map[string]string{serverEnv: st.OrchestratorAddr}
	a, out, errb = newTestApp(env)
	if code := runMain(context.Background(), []string{"runs", "show", id[1]}, a); code != exitOK {
		t.Fatalf("runs show: exit %d: %s", code, errb)
	}
	for _, want := range []string{"State", "succeeded", "collect", "Artifacts:", "model"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("runs show lacks %q:\n%s", want, out)
		}
	}
	a, out, errb = newTestApp(env)
	code = runMain(context.Background(), []string{"predict", "--run", id[1],
		"--row", "sepal_length_cm=5.1,sepal_width_cm=3.5,petal_length_cm=1.4,petal_width_cm=0.2",
		"--row", "sepal_length_cm=6.7,sepal_width_cm=3.0,petal_length_cm=5.2,petal_width_cm=2.3"}, a)
	if code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "setosa") || !strings.HasPrefix(lines[1], "virginica") {
		t.Errorf("predictions:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDevServesUntilCancelled(t *testing.T) {
	var out, errb syncBuffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"dev", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0",
			"--ingest-addr", "127.0.0.1:0", "--prep-addr", "127.0.0.1:0", "--train-addr", "127.0.0.1:0",
			"--eval-addr", "127.0.0.1:0", "--serve-addr", "127.0.0.1:0", "--serve-http", "127.0.0.1:0", "--http", "127.0.0.1:0"}, a)
	}()
	addrRE := regexp.MustCompile(`(?m)^orchestrator\s+(\S+)$`)
	var addr string
	for addr == "" {
		select {
		case code := <-done:
			t.Fatalf("dev exited early with %d: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := addrRE.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Serving") {
			addr = m[1]
		}
	}
	ca, cout, cerr := newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"runs", "list"}, ca); code != exitOK {
		t.Fatalf("runs list against dev: exit %d: %s", code, cerr)
	}
	if !strings.Contains(cout.String(), "No runs yet") {
		t.Errorf("runs list: %s", cout)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("dev exit %d after cancel: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "Stopped.") {
		t.Errorf("dev output lacks Stopped.:\n%s", out.String())
	}
	// serve-http prints the serving stage's URL; the dashboard's comes once.
	if m := regexp.MustCompile(`(?m)^dashboard\s+(\S+)$`).FindStringSubmatch(out.String()); m != nil {
		if n := strings.Count(out.String(), m[1]); n > 1 {
			t.Errorf("dev prints the dashboard URL %d times:\n%s", n, out.String())
		}
	}
	for _, name := range []string{"ingest", "prep", "train", "eval", "serve", "serve-http", "data", "dashboard"} {
		if !regexp.MustCompile(`(?m)^` + name + `\s+\S+`).MatchString(out.String()) {
			t.Errorf("dev does not print the %s address", name)
		}
	}
}
