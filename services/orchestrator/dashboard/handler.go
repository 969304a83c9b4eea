// Package dashboard serves alur's web dashboard and renders its
// self-contained HTML run report. Pages are plain HTML from html/template
// with charts drawn on the server by gonum/plot as inline SVG, so the
// dashboard needs no JavaScript at all: the runs list and a running run's
// page refresh themselves with a meta refresh while anything is going.
//
// Routes: / (runs list), /runs/{id} (one run), /runs/{id}/report.html
// (the run's report), /compare?a=ID&b=ID (two runs side by side) and
// /healthz. The dashboard reads everything through a Source: in process
// from the orchestrator, or over gRPC with ClientSource.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// Request handling bounds.
const (
	// requestTimeout bounds the work of one page: reading the run and its
	// artifacts and drawing the charts.
	requestTimeout = 60 * time.Second
	// refreshSeconds is the meta-refresh period of pages that show a run
	// still going.
	refreshSeconds = 3
	// runsPageSize is the number of runs on one page of the list.
	runsPageSize = 50
	// maxPageToken bounds the page query parameter.
	maxPageToken = 1024
	// maxRunID bounds a run ID in a URL (the store's own limit).
	maxRunID = 256
)

// pageData is what the layout template renders.
type pageData struct {
	Title     string
	Refresh   int
	Report    bool
	CSS       template.CSS
	Generated string
	// AsOf dates a report of an ended run by the run's end, in place of
	// Generated, which would make each rendering differ.
	AsOf string
	Data any
}

// errorView is the content of an error page.
type errorView struct{ Title, Message string }

// templates are parsed once; each page is the layout plus its content.
var pageTemplates, styleCSS = mustTemplates()

func mustTemplates() (map[string]*template.Template, template.CSS) {
	base := template.Must(template.New("layout").ParseFS(templateFS, "templates/layout.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"runs", "run", "compare", "error"} {
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		panic(err) // embedded at build time; cannot happen
	}
	return pages, template.CSS(css)
}

// handler serves the dashboard.
type handler struct {
	src    Source
	an     *analyzer
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
}

// NewHandler returns the dashboard's HTTP handler reading from src. It
// answers GET (and HEAD) only; every page is bounded by a one-minute
// deadline, and a panic is logged and answered with 500. A nil logger
// discards logs. Callers should serve it with header and write timeouts
// (see Serve).
func NewHandler(src Source, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{src: src, an: newAnalyzer(src), logger: logger, now: time.Now, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.runs)
	h.mux.HandleFunc("GET /runs/{id}", h.run)
	h.mux.HandleFunc("GET /runs/{id}/report.html", h.report)
	h.mux.HandleFunc("GET /compare", h.compare)
	// Browsers ask for an icon; answer "none" rather than an error that
	// would show in their console.
	h.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	h.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
	})
	return h
}

// ServeHTTP adds security headers, the request deadline and panic
// recovery around the routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.logger.Error("dashboard panic", "path", r.URL.Path, "panic", v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, code int, page string, p pageData) {
	p.CSS = styleCSS
	p.Generated = h.now().UTC().Format("2006-01-02 15:04:05 UTC")
	var buf bytes.Buffer
	if err := pageTemplates[page].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.logger.Error("render page", "page", page, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error: could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// fail answers with an error page.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, code int, title, msg string) {
	h.render(w, r, code, "error", pageData{Title: title, Data: errorView{Title: title, Message: msg}})
}

// sourceFail answers a failed Source call with the status that suits it.
func (h *handler) sourceFail(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case isNotFound(err):
		h.fail(w, r, http.StatusNotFound, "Not found", what+" does not exist.")
	case status.Code(err) == codes.InvalidArgument:
		h.fail(w, r, http.StatusBadRequest, "Bad request", what+": "+status.Convert(err).Message())
	case status.Code(err) == codes.Unavailable:
		h.fail(w, r, http.StatusServiceUnavailable, "Orchestrator unavailable", "The dashboard could not reach the orchestrator; reload in a moment.")
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		h.fail(w, r, http.StatusGatewayTimeout, "Too slow", "Reading "+what+" took too long; reload to try again.")
	default:
		h.logger.Error("dashboard source", "path", r.URL.Path, "err", err)
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Reading "+what+" failed: "+err.Error())
	}
}

// validRunID reports whether id can name a run: 1 to 256 bytes of
// letters, digits and ". _ : -" (run IDs look like 20260102-150405-a1b2c3).
func validRunID(id string) bool {
	if id == "" || len(id) > maxRunID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func (h *handler) runs(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("page")
	if len(token) > maxPageToken {
		h.fail(w, r, http.StatusBadRequest, "Bad request", "The page parameter is too long.")
		return
	}
	runs, next, err := h.src.ListRuns(r.Context(), runsPageSize, token)
	if err != nil {
		h.sourceFail(w, r, "The list of runs", err)
		return
	}
	now := h.now()
	v := runsView{Next: next, PageToken: token}
	for _, run := range runs {
		s := summarize(run, now, h.an.datasetName(r.Context(), run))
		v.Active = v.Active || s.Active
		v.Runs = append(v.Runs, s)
	}
	p := pageData{Title: "Runs", Data: v}
	if v.Active {
		p.Refresh = refreshSeconds
	}
	h.render(w, r, http.StatusOK, "runs", p)
}

func (h *handler) run(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validRunID(id) {
		h.fail(w, r, http.StatusBadRequest, "Bad request", "That is not a run ID.")
		return
	}
	d, err := h.an.load(r.Context(), id)
	if err != nil {
		h.sourceFail(w, r, "Run "+id, err)
		return
	}
	v := buildRunView(d, h.now())
	p := pageData{Title: pageTitle(v), Data: v}
	if v.Active {
		p.Refresh = refreshSeconds
	}
	h.render(w, r, http.StatusOK, "run", p)
}

func pageTitle(v *runView) string {
	if v.Name != "" {
		return v.Name + " (" + v.ID + ")"
	}
	return "Run " + v.ID
}

func (h *handler) report(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validRunID(id) {
		h.fail(w, r, http.StatusBadRequest, "Bad request", "That is not a run ID.")
		return
	}
	b, err := renderReport(r.Context(), h.an, id, h.now())
	if err != nil {
		h.sourceFail(w, r, "Run "+id, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=\"alur-report-%s.html\"", id))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func (h *handler) compare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, b := q.Get("a"), q.Get("b")
	for _, id := range []string{a, b} {
		if id != "" && !validRunID(id) {
			h.fail(w, r, http.StatusBadRequest, "Bad request", "That is not a run ID.")
			return
		}
	}
	runs, _, err := h.src.ListRuns(r.Context(), 100, "")
	if err != nil {
		h.sourceFail(w, r, "The list of runs", err)
		return
	}
	now := h.now()
	v := compareView{AID: a, BID: b}
	for _, run := range runs {
		v.Choices = append(v.Choices, summarize(run, now, ""))
	}
	// Preselect sensible runs when one side is missing: the newest runs
	// other than the one given.
	for _, c := range v.Choices {
		if v.AID == "" && c.ID != v.BID {
			v.AID = c.ID
		}
		if v.BID == "" && c.ID != v.AID {
			v.BID = c.ID
		}
	}
	p := pageData{Title: "Compare runs", Data: &v}
	if a == "" || b == "" {
		h.render(w, r, http.StatusOK, "compare", p)
		return
	}
	da, err := h.an.load(r.Context(), a)
	if err != nil {
		h.sourceFail(w, r, "Run "+a, err)
		return
	}
	db, err := h.an.load(r.Context(), b)
	if err != nil {
		h.sourceFail(w, r, "Run "+b, err)
		return
	}
	v.A, v.B = buildRunView(da, now), buildRunView(db, now)
	v.Rows = compareRows(da.Run, db.Run, v.A, v.B)
	v.Pairs = comparePairs(v.A, v.B)
	p.Title = "Compare " + a + " and " + b
	if v.A.Active || v.B.Active {
		p.Refresh = refreshSeconds
	}
	h.render(w, r, http.StatusOK, "compare", p)
}

// Serve serves h on lis until ctx ends, then shuts down gracefully, giving
// requests in flight up to five seconds. The server bounds slow clients:
// ten seconds to send headers, two minutes to receive a page.
func Serve(ctx context.Context, lis net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
