// Package browser drives a real headless Chromium through the dashboard
// and the HTML report: every page loads, every chart renders, nothing is
// logged as an error, the report loads no external resource, and the
// pages fit a 1366-pixel laptop screen. It saves a full-page screenshot of
// each page (and a PDF print of the report) for people to look at.
//
// The test runs only with ALUR_BROWSER_TEST=1 (make browser sets it), so
// that "go test ./..." stays browser-free. It needs Debian's chromium:
// scripts/install-chromium.sh installs it.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// Laptop viewport the pages must fit.
const viewportWidth, viewportHeight = 1366, 900

// The charts each kind of page must draw.
var (
	classificationCharts = []string{"timeline", "class-balance", "correlation", "histogram", "leaderboard",
		"confusion-matrix", "roc", "pr", "feature-importance", "learning-curve"}
	regressionCharts = []string{"timeline", "missing", "correlation", "histogram", "leaderboard",
		"predicted-vs-actual", "residuals", "feature-importance", "learning-curve"}
	compareCharts = []string{"leaderboard", "learning-curve", "feature-importance", "confusion-matrix", "roc",
		"predicted-vs-actual", "residuals"}
)

func TestDashboardInBrowser(t *testing.T) {
	if os.Getenv("ALUR_BROWSER_TEST") != "1" {
		t.Skip("drives a real browser; run with ALUR_BROWSER_TEST=1 (make browser)")
	}
	exe := chromiumPath(t)

	st := alurtest.Start(t, stack.Config{})
	client := st.Orchestrator
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	iris := runToEnd(ctx, t, client, &orchestratorv1.PipelineSpec{
		Name:   "iris species",
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
		Label:  "species",
		Seed:   42,
	})
	digest := upload(ctx, t, client, "houses.csv", housesCSV(500, 3))
	houses := runToEnd(ctx, t, client, &orchestratorv1.PipelineSpec{
		Name:   "house prices",
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: digest}},
		Label:  "price",
		Seed:   42,
	})

	// A wide table: 30 numeric features, for the layout of many columns.
	cancer := runToEnd(ctx, t, client, &orchestratorv1.PipelineSpec{
		Name:   "breast cancer",
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "breast_cancer"}},
		Label:  "class",
		Candidates: []*orchestratorv1.Candidate{
			{Algorithm: "logistic_regression"}, {Algorithm: "random_forest", Params: map[string]float64{"n_estimators": 30}},
		},
		Seed: 42,
	})

	// The orchestrator's own source: its charts of the models'
	// predictions ask eval.
	src := st.Stack.Orchestrator.DashboardSource()
	base := serveDashboard(t, src)
	shots := screenshotDir(t)
	irisReport := filepath.Join(shots, "report-iris.html")
	housesReport := filepath.Join(shots, "report-houses.html")
	for path, id := range map[string]string{irisReport: iris.GetId(), housesReport: houses.GetId()} {
		b, err := dashboard.RenderReport(ctx, src, id)
		if err != nil {
			t.Fatalf("RenderReport(%s): %v", id, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	b := newBrowser(ctx, t, exe)
	pages := []struct {
		name, url string
		charts    []string
		offline   bool
		sections  []string
	}{
		{name: "runs", url: base + "/"},
		{name: "run-iris", url: base + "/runs/" + iris.GetId(), charts: classificationCharts, sections: runSections},
		{name: "run-houses", url: base + "/runs/" + houses.GetId(), charts: regressionCharts, sections: runSections},
		{name: "run-cancer", url: base + "/runs/" + cancer.GetId(), charts: classificationCharts, sections: runSections},
		{name: "compare", url: base + "/compare?a=" + iris.GetId() + "&b=" + houses.GetId(), charts: compareCharts},
		{name: "served-report-iris", url: base + "/runs/" + iris.GetId() + "/report.html", charts: classificationCharts, sections: runSections},
		{name: "report-iris", url: "file://" + irisReport, charts: classificationCharts, offline: true, sections: runSections},
		{name: "report-houses", url: "file://" + housesReport, charts: regressionCharts, offline: true, sections: runSections},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			b.visit(t, pg.url, pg.charts, pg.offline, pg.sections, filepath.Join(shots, pg.name+".png"))
		})
	}
	t.Run("report-print", func(t *testing.T) {
		b.printPDF(t, "file://"+irisReport, filepath.Join(shots, "report-iris.pdf"), filepath.Join(shots, "report-iris-print.png"))
	})
	t.Logf("screenshots and reports: %s", shots)
}

// chromiumPath finds the browser, or fails with how to install it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if os.Getenv("ALUR_SKIP_BROWSER") == "1" {
		t.Skip("chromium is not installed and ALUR_SKIP_BROWSER=1")
	}
	t.Fatal("chromium is not installed: run scripts/install-chromium.sh (or set ALUR_SKIP_BROWSER=1 to skip this test)")
	return ""
}

// screenshotDir is $ALUR_SCREENSHOT_DIR (created if needed) or a
// temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ALUR_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// serveDashboard serves the dashboard on a loopback port until the test
// ends and returns its base URL.
func serveDashboard(t *testing.T, src dashboard.Source) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dashboard.Serve(ctx, lis, dashboard.NewHandler(src, nil)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard server: %v", err)
		}
	})
	return "http://" + lis.Addr().String()
}

// housesCSV makes a small housing table: two numbers, a district with a
// few missing values, and a noisy price.
func housesCSV(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var b bytes.Buffer
	b.WriteString("area_m2,rooms,district,price\n")
	districts := []string{"north", "south", "centre", "harbour"}
	bonus := map[string]float64{"north": 0, "south": -20000, "centre": 60000, "harbour": 35000}
	for i := range n {
		area := 35 + rng.Float64()*165
		rooms := math.Max(1, math.Round(area/35+rng.NormFloat64()*0.7))
		d := districts[rng.IntN(len(districts))]
		price := 1800*area + 9000*rooms + bonus[d] + rng.NormFloat64()*18000
		if i%23 == 0 {
			d = ""
		}
		fmt.Fprintf(&b, "%.1f,%g,%s,%.0f\n", area, rooms, d, price)
	}
	return b.Bytes()
}

func upload(ctx context.Context, t *testing.T, c orchestratorv1.OrchestratorServiceClient, name string, data []byte) string {
	t.Helper()
	stream, err := c.UploadSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*orchestratorv1.UploadSourceRequest{
		{Part: &orchestratorv1.UploadSourceRequest_Name{Name: name}},
		{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: data}},
	} {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetArtifact().GetDigest()
}

// runToEnd starts a run, follows it until it ends and requires success.
func runToEnd(ctx context.Context, t *testing.T, c orchestratorv1.OrchestratorServiceClient, spec *orchestratorv1.PipelineSpec) *orchestratorv1.Run {
	t.Helper()
	resp, err := c.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetRun().GetId()
	stream, err := c.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("watch %s: %v", id, err)
		}
	}
	got, err := c.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRun().GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run %s (%s) ended %v: %s", id, spec.GetName(), got.GetRun().GetState(), got.GetRun().GetError())
	}
	return got.GetRun()
}

// browser is one headless Chromium tab and what it reported while the
// current page loaded.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string // console errors, exceptions, failed loads
	requests []string // URLs requested
}

func newBrowser(ctx context.Context, t *testing.T, exe string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportWidth, viewportHeight),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("allow-file-access-from-files", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	b := &browser{}
	bctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	b.ctx = bctx
	return b
}

// record keeps what matters of the tab's events. It runs on chromedp's
// reading goroutine, so it only appends under the lock.
func (b *browser) record(ev any) {
	var problem, request string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			problem = "console." + string(e.Type) + ": " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		problem = "exception: " + (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error()
	case *log.EventEntryAdded:
		if e.Entry != nil && e.Entry.Level == log.EntryLevelError {
			problem = "log error (" + string(e.Entry.Source) + "): " + e.Entry.Text + " " + e.Entry.URL
		}
	case *network.EventLoadingFailed:
		if !e.Canceled {
			problem = "load failed: " + e.ErrorText + " " + string(e.BlockedReason)
		}
	case *network.EventResponseReceived:
		if e.Response != nil && e.Response.Status >= 400 {
			problem = fmt.Sprintf("HTTP %d for %s", e.Response.Status, e.Response.URL)
		}
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			request = e.Request.URL
		}
	}
	if problem == "" && request == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if problem != "" {
		b.problems = append(b.problems, problem)
	}
	if request != "" {
		b.requests = append(b.requests, request)
	}
}

// drain returns and forgets what was recorded.
func (b *browser) drain() (problems, requests []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	problems, requests = b.problems, b.requests
	b.problems, b.requests = nil, nil
	return problems, requests
}

// chartInfo is what the page says about one chart.
type chartInfo struct {
	Name   string  `json:"name"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Shapes int     `json:"shapes"`
	Texts  int     `json:"texts"`
}

// pageFacts are read from the loaded page.
type pageFacts struct {
	Charts      []chartInfo `json:"charts"`
	Missing     []string    `json:"missing"`
	ScrollWidth float64     `json:"scrollWidth"`
	InnerWidth  float64     `json:"innerWidth"`
	Title       string      `json:"title"`
	Escaped     bool        `json:"escaped"`
	// Scrolling counts tables too wide for their box.
	Scrolling int `json:"scrolling"`
	// Sections are the ids of the page's section cards, top to bottom as
	// the browser lays them out.
	Sections []string `json:"sections"`
}

// runSections is the order of a run page and its report: what a manager
// asks first (how good, which model, will more data help), the plumbing
// (steps, artifacts) last.
var runSections = []string{"summary", "test", "model", "learning-curve", "candidates", "errors", "metrics-explained", "data", "preparation", "steps", "artifacts"}

const factsJS = `(() => ({
  charts: Array.from(document.querySelectorAll('svg[data-chart]')).map(s => {
    const r = s.getBoundingClientRect();
    return {name: s.dataset.chart, width: r.width, height: r.height,
      shapes: s.querySelectorAll('path').length, texts: s.querySelectorAll('text').length};
  }),
  missing: Array.from(document.querySelectorAll('[data-chart-missing]')).map(e => e.dataset.chartMissing + ': ' + e.textContent.trim()),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  title: document.title,
  escaped: document.body.innerHTML.includes('ZgotmplZ'),
  scrolling: Array.from(document.querySelectorAll('.table-wrap')).filter(e => e.scrollWidth > e.clientWidth + 1).length,
  sections: Array.from(document.querySelectorAll('section.card[id]'))
    .map(e => ({id: e.id, top: e.getBoundingClientRect().top + window.scrollY}))
    .sort((a, b) => a.top - b.top).map(e => e.id),
}))()`

// visit loads url and checks it; it saves a full-page screenshot to shot.
func (b *browser) visit(t *testing.T, url string, want []string, offline bool, sections []string, shot string) {
	t.Helper()
	b.drain()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	if strings.HasPrefix(url, "http") && resp.Status != 200 {
		t.Fatalf("load %s: HTTP %d", url, resp.Status)
	}
	facts, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", url, err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %q, %d charts, screenshot %s", url, facts.Title, len(facts.Charts), shot)

	seen := map[string]int{}
	for _, c := range facts.Charts {
		seen[c.Name]++
		if c.Width < 100 || c.Height < 60 || c.Shapes < 3 || c.Texts < 2 {
			t.Errorf("chart %q renders empty or tiny: %.0f×%.0f px, %d paths, %d texts", c.Name, c.Width, c.Height, c.Shapes, c.Texts)
		}
	}
	for _, name := range want {
		if seen[name] == 0 {
			t.Errorf("no %q chart on the page (charts: %v)", name, seen)
		}
	}
	if len(want) > 0 && len(facts.Missing) > 0 {
		t.Errorf("charts not drawn: %q", facts.Missing)
	}
	if facts.ScrollWidth > facts.InnerWidth+1 {
		t.Errorf("the page is %.0f px wide, wider than the %.0f px window: it scrolls sideways on a laptop", facts.ScrollWidth, facts.InnerWidth)
	}
	if facts.Scrolling > 0 {
		t.Errorf("%d tables are wider than the page and scroll sideways", facts.Scrolling)
	}
	if facts.Escaped {
		t.Error("the page holds ZgotmplZ: html/template rejected a value")
	}
	if sections != nil && !slices.Equal(facts.Sections, sections) {
		t.Errorf("sections laid out as %v, want %v", facts.Sections, sections)
	}
	problems, requests := b.drain()
	for _, p := range problems {
		t.Errorf("browser reported: %s", p)
	}
	if offline {
		for _, r := range requests {
			if r != url && !strings.HasPrefix(r, "data:") {
				t.Errorf("the report requested %s: it must load nothing", r)
			}
		}
	}
}

// printPDF prints url as the browser would on A4 and saves the PDF, and a
// screenshot of the page in print media at A4 width (794 CSS pixels) for
// people to check the print layout.
func (b *browser) printPDF(t *testing.T, url, out, shot string) {
	t.Helper()
	b.drain()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	pdf, err := chromedp.Run(b.ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	if err != nil {
		t.Fatalf("print %s: %v", url, err)
	}
	if len(pdf) < 10_000 || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("print %s: %d bytes, not a PDF with content", url, len(pdf))
	}
	if err := os.WriteFile(out, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatalf("emulate print media: %v", err)
	}
	defer func() {
		_, _ = chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		_ = chromedp.Do(b.ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight))
	}()
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(794, 1123)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s in print media: %v", url, err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range func() []string { p, _ := b.drain(); return p }() {
		t.Errorf("browser reported while printing: %s", p)
	}
	t.Logf("printed %s to %s (%d bytes); print layout %s", url, out, len(pdf), shot)
}
