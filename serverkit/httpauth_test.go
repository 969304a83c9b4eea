package serverkit

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestHTTPAuth: with a token, pages need the bearer header or the session
// cookie a login sets; health stays open; the login redirects only within
// the site; the cookie is not the token.
func TestHTTPAuth(t *testing.T) {
	const token = "s3cret-token"
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
	h := (&Options{AuthToken: token}).HTTPAuth(page, "/healthz")
	do := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	get := func(path string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		return do(r)
	}
	login := func(tok, next string) *httptest.ResponseRecorder {
		form := url.Values{"token": {tok}, "next": {next}}
		r := httptest.NewRequest(http.MethodPost, LoginPath, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(r)
	}

	for _, tc := range []struct {
		name   string
		w      *httptest.ResponseRecorder
		status int
	}{
		{"no credentials", get("/runs/x"), http.StatusUnauthorized},
		{"health is open", get("/healthz"), http.StatusOK},
		{"bearer token", get("/runs/x", "Authorization", "Bearer "+token), http.StatusOK},
		{"bearer scheme in lower case", get("/", "Authorization", "bearer "+token), http.StatusOK},
		{"wrong token", get("/", "Authorization", "Bearer nope"), http.StatusUnauthorized},
		{"two authorization headers", get("/", "Authorization", "Bearer "+token, "Authorization", "Bearer "+token), http.StatusUnauthorized},
		{"the token as a cookie", get("/", "Cookie", SessionCookie+"="+token), http.StatusUnauthorized},
		{"wrong login", login("nope", "/runs/x"), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.w.Code != tc.status {
				t.Fatalf("status %d, want %d", tc.w.Code, tc.status)
			}
			if tc.status == http.StatusUnauthorized {
				if body := tc.w.Body.String(); !strings.Contains(body, `action="/login"`) || strings.Contains(body, "page ") {
					t.Fatalf("401 body is not the login form: %q", body)
				}
			}
		})
	}

	w := login(token, "/runs/x?tab=2")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/runs/x?tab=2" {
		t.Fatalf("login: %d to %q", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != SessionCookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, token) {
		t.Fatalf("session cookie %+v", cookies)
	}
	if w := get("/runs/x", "Cookie", cookies[0].String()); w.Code != http.StatusOK || w.Body.String() != "page /runs/x" {
		t.Fatalf("with the session cookie: %d %q", w.Code, w.Body.String())
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", ""} {
		if w := login(token, next); w.Header().Get("Location") != "/" {
			t.Errorf("login with next %q redirects to %q", next, w.Header().Get("Location"))
		}
	}

	// Without a token the handler is the page itself.
	if w := httptest.NewRecorder(); true {
		(&Options{}).HTTPAuth(page).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("no token configured: %d", w.Code)
		}
	}
}

func TestCheckHTTPExposure(t *testing.T) {
	p := newTestPKI(t)
	tlsOpts := &Options{TLSCert: p.serverCert, TLSKey: p.serverKey}
	for _, tc := range []struct {
		addr     string
		o        *Options
		insecure bool
		ok       bool
	}{
		{"localhost:8080", &Options{}, false, true},
		{"127.0.0.1:8080", &Options{}, false, true},
		{"[::1]:8080", &Options{}, false, true},
		{":8080", &Options{}, false, false},
		{"0.0.0.0:8080", &Options{}, false, false},
		{"0.0.0.0:8080", &Options{AuthToken: "t"}, false, false},
		{"10.1.2.3:8080", &Options{}, false, false},
		{"dashboard.example:8080", &Options{}, false, false},
		{"0.0.0.0:8080", &Options{}, true, true},
		{"0.0.0.0:8080", tlsOpts, false, true},
	} {
		err := tc.o.CheckHTTPExposure(tc.addr, tc.insecure)
		if (err == nil) != tc.ok {
			t.Errorf("%s (tls %v, insecure %v): %v", tc.addr, tc.o.serverTLS(), tc.insecure, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--dashboard-insecure") {
			t.Errorf("%s: the refusal does not name the flag: %v", tc.addr, err)
		}
	}
}

// TestHTTPListenerTLS serves a page through HTTPListener with the gRPC
// TLS settings: an HTTPS client that trusts the CA gets it, a plain HTTP
// client does not, and with mTLS a client without a certificate fails.
func TestHTTPListenerTLS(t *testing.T) {
	p := newTestPKI(t)
	caPEM, err := os.ReadFile(p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	clientCert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(o *Options) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tl, err := o.HTTPListener(lis)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
		go func() { _ = srv.Serve(tl) }()
		t.Cleanup(func() { srv.Close() })
		return lis.Addr().String()
	}
	fetch := func(u string, cfg *tls.Config) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "ok" {
			return io.ErrUnexpectedEOF
		}
		return nil
	}
	tlsAddr := serve(&Options{TLSCert: p.serverCert, TLSKey: p.serverKey})
	if err := fetch("https://"+tlsAddr, &tls.Config{RootCAs: roots}); err != nil {
		t.Fatalf("https: %v", err)
	}
	if err := fetch("http://"+tlsAddr, nil); err == nil {
		t.Fatal("plain HTTP to the TLS listener succeeded")
	}
	mtlsAddr := serve(&Options{TLSCert: p.serverCert, TLSKey: p.serverKey, TLSClientCA: p.caFile})
	if err := fetch("https://"+mtlsAddr, &tls.Config{RootCAs: roots}); err == nil {
		t.Fatal("mTLS without a client certificate succeeded")
	}
	if err := fetch("https://"+mtlsAddr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}); err != nil {
		t.Fatalf("mTLS with a client certificate: %v", err)
	}
}
