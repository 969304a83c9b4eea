package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var chartAttr = regexp.MustCompile(`<svg [^>]*data-chart="([a-z-]+)"`)
var missingAttr = regexp.MustCompile(`data-chart-missing="([a-z-]+)"`)

// charts counts the rendered charts of a page by name, and lists the
// charts that could not be drawn.
func charts(page string) (map[string]int, []string) {
	got := map[string]int{}
	for _, m := range chartAttr.FindAllStringSubmatch(page, -1) {
		got[m[1]]++
	}
	var missing []string
	for _, m := range missingAttr.FindAllStringSubmatch(page, -1) {
		missing = append(missing, m[1])
	}
	return got, missing
}

func TestPages(t *testing.T) {
	f := getFixture(t)
	srv := httptest.NewServer(dashboard.NewHandler(f.src, nil))
	defer srv.Close()

	classification := []string{"timeline", "class-balance", "correlation", "histogram", "leaderboard", "confusion-matrix", "roc", "pr", "feature-importance", "learning-curve"}
	regression := []string{"timeline", "missing", "correlation", "histogram", "leaderboard", "predicted-vs-actual", "residuals", "feature-importance", "learning-curve"}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"runs list", "/", nil},
		{"iris run", "/runs/" + f.iris.GetId(), classification},
		{"regression run", "/runs/" + f.regress.GetId(), regression},
		{"iris report", "/runs/" + f.iris.GetId() + "/report.html", classification},
		{"compare", "/compare?a=" + f.iris.GetId() + "&b=" + f.regress.GetId(), []string{"leaderboard", "learning-curve", "confusion-matrix", "predicted-vs-actual"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, srv.URL+tc.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", tc.path, code, body)
			}
			got, missing := charts(body)
			for _, name := range tc.want {
				if got[name] == 0 {
					t.Errorf("GET %s: no %q chart (charts: %v; missing: %v)", tc.path, name, got, missing)
				}
			}
			if len(tc.want) > 0 && len(missing) > 0 {
				t.Errorf("GET %s: charts not drawn: %v", tc.path, missing)
			}
			if strings.Contains(body, "ZgotmplZ") {
				t.Errorf("GET %s: the template escaped a value to ZgotmplZ", tc.path)
			}
			if dir := os.Getenv("ALUR_DASHBOARD_OUT"); dir != "" {
				name := strings.ReplaceAll(tc.name, " ", "-") + ".html"
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	f := getFixture(t)
	srv := httptest.NewServer(dashboard.NewHandler(f.src, nil))
	defer srv.Close()
	tests := []struct {
		path string
		want int
	}{
		{"/runs/20990101-000000-abcdef", http.StatusNotFound},
		{"/runs/20990101-000000-abcdef/report.html", http.StatusNotFound},
		{"/runs/bad%20id", http.StatusBadRequest},
		{"/compare?a=" + f.iris.GetId() + "&b=nope", http.StatusNotFound},
		{"/compare?a=%3Cscript%3E", http.StatusBadRequest},
		{"/compare", http.StatusOK},
		{"/nowhere", http.StatusNotFound},
		{"/healthz", http.StatusOK},
	}
	for _, tc := range tests {
		if code, body := get(t, srv.URL+tc.path); code != tc.want {
			t.Errorf("GET %s: %d, want %d\n%s", tc.path, code, tc.want, body)
		}
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// externalRef finds anything in a page that would load a resource.
var externalRef = regexp.MustCompile(`(?i)<script|<link|<img|<iframe|<object|\bsrc=|url\(|@import|https?://`)

func TestReportIsSelfContained(t *testing.T) {
	f := getFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{f.iris.GetId(), f.regress.GetId()} {
		b, err := dashboard.RenderReport(ctx, f.src, id)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		// The SVG namespace names are identifiers, not fetched.
		page = strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
		page = strings.ReplaceAll(page, `xmlns:xlink="http://www.w3.org/1999/xlink"`, "")
		if m := externalRef.FindString(page); m != "" {
			i := strings.Index(page, m)
			t.Errorf("report of %s refers to an external resource near %q", id, page[max(0, i-80):min(len(page), i+80)])
		}
		if strings.Contains(page, `href="/`) {
			t.Errorf("report of %s links into the dashboard", id)
		}
		if n := len(b); n > 4<<20 {
			t.Errorf("report of %s is %d bytes", id, n)
		}
	}
	if _, err := dashboard.RenderReport(ctx, dashboard.ClientSource(f.client), "20990101-000000-abcdef"); err == nil {
		t.Error("RenderReport of a missing run: no error")
	}
}

// TestClientSourceRunsNoModel renders a report over gRPC, through a
// Source that cannot ask eval: the page renders, and the charts of the
// model's predictions say where they are drawn instead.
func TestClientSourceRunsNoModel(t *testing.T) {
	f := getFixture(t)
	b, err := dashboard.RenderReport(t.Context(), dashboard.ClientSource(f.client), f.iris.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "drawn where the orchestrator runs") {
		t.Error("the report does not say where the prediction charts are drawn")
	}
}
