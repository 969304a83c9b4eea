package dashboard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func serveFake(t *testing.T, src Source) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(src, nil))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, method, u string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

var svgCharts = regexp.MustCompile(`<svg [^>]*data-chart="([a-z-]+)"`)

func chartNames(page string) map[string]int {
	out := map[string]int{}
	for _, m := range svgCharts.FindAllStringSubmatch(page, -1) {
		out[m[1]]++
	}
	return out
}

func TestHandlerPages(t *testing.T) {
	src := newFakeSource()
	src.addRun(t, "20260102-030405-aaaaaa", "logistic_regression", false)
	src.addRun(t, "20260102-030405-bbbbbb", "knn", false)
	src.addRun(t, "20260102-030405-cccccc", "ridge", true)
	srv := serveFake(t, src)

	tests := []struct {
		name, path string
		want       []string
	}{
		{"classification with own importances", "/runs/20260102-030405-aaaaaa",
			[]string{"timeline", "class-balance", "missing", "correlation", "histogram", "leaderboard", "confusion-matrix", "roc", "pr", "feature-importance", "learning-curve"}},
		{"classification with permutation importance", "/runs/20260102-030405-bbbbbb", []string{"feature-importance", "roc"}},
		{"regression", "/runs/20260102-030405-cccccc",
			[]string{"timeline", "missing", "correlation", "histogram", "leaderboard", "predicted-vs-actual", "residuals", "feature-importance", "learning-curve"}},
		{"report", "/runs/20260102-030405-cccccc/report.html", []string{"predicted-vs-actual", "learning-curve"}},
		{"compare", "/compare?a=20260102-030405-aaaaaa&b=20260102-030405-cccccc", []string{"confusion-matrix", "residuals", "leaderboard"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := fetch(t, http.MethodGet, srv.URL+tc.path)
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("CSP %q", csp)
			}
			got := chartNames(body)
			for _, name := range tc.want {
				if got[name] == 0 {
					t.Errorf("no %s chart (got %v)", name, got)
				}
			}
			if strings.Contains(body, "data-chart-missing") {
				i := strings.Index(body, "data-chart-missing")
				t.Errorf("a chart is missing: %s", body[i:min(len(body), i+300)])
			}
			if strings.Contains(body, "ZgotmplZ") || strings.Contains(body, "http-equiv=\"refresh\"") {
				t.Error("escaped value or refresh on a finished run")
			}
		})
	}
	code, _, body := fetch(t, http.MethodGet, srv.URL+"/")
	if code != http.StatusOK || strings.Count(body, "data-run=") != 3 {
		t.Errorf("runs list: %d, %d runs", code, strings.Count(body, "data-run="))
	}
	code, _, body = fetch(t, http.MethodHead, srv.URL+"/runs/20260102-030405-aaaaaa")
	if code != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d with %d bytes", code, len(body))
	}
}

func TestHandlerErrors(t *testing.T) {
	src := newFakeSource()
	src.addRun(t, "20260102-030405-aaaaaa", "logistic_regression", false)
	srv := serveFake(t, src)
	tests := []struct {
		path string
		want int
	}{
		{"/runs/nope", http.StatusNotFound},
		{"/runs/" + url.PathEscape("a b"), http.StatusBadRequest},
		{"/runs/" + strings.Repeat("x", 300), http.StatusBadRequest},
		{"/runs/nope/report.html", http.StatusNotFound},
		{"/compare?a=20260102-030405-aaaaaa&b=nope", http.StatusNotFound},
		{"/compare?a=" + url.QueryEscape("<x>"), http.StatusBadRequest},
		{"/?page=" + strings.Repeat("t", 2000), http.StatusBadRequest},
		{"/?page=bogus", http.StatusBadRequest},
		{"/favicon.ico", http.StatusNoContent},
		{"/healthz", http.StatusOK},
		{"/runs", http.StatusNotFound},
	}
	for _, tc := range tests {
		if code, _, body := fetch(t, http.MethodGet, srv.URL+tc.path); code != tc.want {
			t.Errorf("GET %s: %d, want %d\n%.300s", tc.path, code, tc.want, body)
		}
	}
	if code, _, _ := fetch(t, http.MethodPost, srv.URL+"/"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", code)
	}

	// The orchestrator's failures map to HTTP statuses.
	for _, tc := range []struct {
		err  error
		want int
	}{
		{status.Error(codes.Unavailable, "connection refused"), http.StatusServiceUnavailable},
		{status.Error(codes.DeadlineExceeded, "slow"), http.StatusGatewayTimeout},
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		src.mu.Lock()
		src.err = tc.err
		src.mu.Unlock()
		if code, _, _ := fetch(t, http.MethodGet, srv.URL+"/"); code != tc.want {
			t.Errorf("%v: %d, want %d", tc.err, code, tc.want)
		}
	}
}

// TestHandlerEscapes puts markup in every name a user controls: the run
// name, the label, column and class names. None may reach the page as
// markup.
func TestHandlerEscapes(t *testing.T) {
	src := newFakeSource()
	run := src.addRun(t, "20260102-030405-aaaaaa", "decision_tree", false)
	evil := `<script>alert(1)</script>`
	run.Spec.Name = evil
	run.Spec.Label = evil
	run.Error = evil
	run.TestMetrics.GetClassification().ConfusionMatrix.Labels[0] = evil
	run.Trials[0].Algorithm = evil
	srv := serveFake(t, src)
	for _, path := range []string{"/", "/runs/" + run.GetId(), "/runs/" + run.GetId() + "/report.html", "/compare?a=" + run.GetId() + "&b=" + run.GetId()} {
		code, _, body := fetch(t, http.MethodGet, srv.URL+path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", path, code)
		}
		if strings.Contains(body, "<script") {
			t.Errorf("%s: unescaped markup", path)
		}
	}
}

// TestLiveRefresh: a running run's pages refresh themselves; nothing else
// does.
func TestLiveRefresh(t *testing.T) {
	src := newFakeSource()
	run := src.addRun(t, "20260102-030405-aaaaaa", "logistic_regression", false)
	run.State = orchestratorv1.RunState_RUN_STATE_RUNNING
	run.EndTime = nil
	run.LearningCurve = nil
	run.Steps[len(run.Steps)-1].State = orchestratorv1.StepState_STEP_STATE_RUNNING
	run.Steps[len(run.Steps)-1].EndTime = nil
	srv := serveFake(t, src)
	for _, path := range []string{"/", "/runs/" + run.GetId()} {
		_, _, body := fetch(t, http.MethodGet, srv.URL+path)
		if !strings.Contains(body, `<meta http-equiv="refresh" content="3">`) {
			t.Errorf("%s: no refresh while the run is going", path)
		}
	}
	_, _, body := fetch(t, http.MethodGet, srv.URL+"/runs/"+run.GetId())
	if !strings.Contains(body, "Learning curve not available yet") {
		t.Error("the missing learning curve is not explained")
	}
}

// TestFailedRun: a run that failed early shows its error and explains
// every missing part.
func TestFailedRun(t *testing.T) {
	src := newFakeSource()
	run := &orchestratorv1.Run{
		Id:    "20260102-030405-ffffff",
		Spec:  &orchestratorv1.PipelineSpec{Name: "broken", Label: "nope"},
		State: orchestratorv1.RunState_RUN_STATE_FAILED,
		Error: "InvalidArgument: options.label: no column nope",
		Steps: []*orchestratorv1.Step{{Name: "prepare", State: orchestratorv1.StepState_STEP_STATE_FAILED, Error: "no column nope"}},
	}
	src.runs = append(src.runs, run)
	srv := serveFake(t, src)
	code, _, body := fetch(t, http.MethodGet, srv.URL+"/runs/"+run.GetId())
	if code != http.StatusOK {
		t.Fatalf("%d", code)
	}
	for _, want := range []string{"no column nope", "prepare failed", "ended before it made a data profile", "ended before its final model was tested"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, err := RenderReport(context.Background(), src, run.GetId()); err != nil {
		t.Errorf("report of a failed run: %v", err)
	}
}

// TestAnalysisCache: the second view of a run decodes nothing again.
func TestAnalysisCache(t *testing.T) {
	src := newFakeSource()
	run := src.addRun(t, "20260102-030405-aaaaaa", "logistic_regression", false)
	an := newAnalyzer(src)
	if _, err := an.load(context.Background(), run.GetId()); err != nil {
		t.Fatal(err)
	}
	first := src.reads
	if _, err := an.load(context.Background(), run.GetId()); err != nil {
		t.Fatal(err)
	}
	if src.reads != first {
		t.Errorf("the second load read %d more artifacts", src.reads-first)
	}
}

func TestServeShutsDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, lis, NewHandler(newFakeSource(), nil)) }()
	if code, _, _ := fetch(t, http.MethodGet, "http://"+lis.Addr().String()+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestValidRunID(t *testing.T) {
	for id, want := range map[string]bool{
		"20260102-030405-a1b2c3": true, "run_1.2:x": true, "": false, "a/b": false, "a b": false,
		"<x>": false, "ä": false, strings.Repeat("x", 256): true, strings.Repeat("x", 257): false,
	} {
		if got := validRunID(id); got != want {
			t.Errorf("validRunID(%q) = %v", id, got)
		}
	}
}

func FuzzValidRunID(f *testing.F) {
	for _, s := range []string{"20260102-030405-a1b2c3", "", "../x", "%2F", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !validRunID(id) {
			return
		}
		if strings.ContainsAny(id, "/?#%<>\"' \x00") || len(id) > maxRunID || id == "" {
			t.Fatalf("accepted %q", id)
		}
		// An accepted ID is safe in a URL path as is.
		if url.PathEscape(id) != id {
			t.Fatalf("accepted %q, which needs escaping in a path", id)
		}
	})
}

// FuzzHandler sends arbitrary paths and queries: every answer is a
// well-formed status, never a panic or a 500.
func FuzzHandler(f *testing.F) {
	src := newFakeSource()
	for _, s := range []string{"/", "/runs/x", "/runs/x/report.html", "/compare?a=x&b=y", "/compare?a=", "/?page=%00", "/runs/%2e%2e/"} {
		f.Add(s)
	}
	h := NewHandler(src, nil)
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.Parse(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://dash.test/", nil)
		req.URL = u
		req.RequestURI = ""
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusNoContent, http.StatusBadRequest, http.StatusNotFound,
			http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			t.Fatalf("%q: status %d", target, rec.Code)
		}
	})
}
