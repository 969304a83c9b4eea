package serverkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
)

// SessionCookie is the cookie an HTTP login sets. It holds an HMAC of a
// fixed label under the token, not the token: it opens the HTTP pages but
// is no bearer token for gRPC, and it reveals nothing of the token.
const SessionCookie = "alur_session"

// LoginPath is where the login form of HTTPAuth posts the token.
const LoginPath = "/login"

// CheckHTTPExposure refuses to serve HTTP pages (the dashboard) on addr
// without TLS when addr is reachable from other machines: an empty or
// wildcard host, or any host that is not a loopback name or address.
// Plain HTTP beyond loopback would show every run and data value to the
// network, and carry the token in the clear. insecure (the binary's
// --dashboard-insecure) accepts that on purpose, for a network that
// encrypts by other means.
func (o *Options) CheckHTTPExposure(addr string, insecure bool) error {
	if insecure || o.serverTLS() || isLoopback(addr) {
		return nil
	}
	return fmt.Errorf("refusing to serve the dashboard on %s over plain HTTP beyond loopback: turn TLS on (--tls-cert, --tls-key), bind a loopback address, or pass --dashboard-insecure", addr)
}

// isLoopback reports whether addr's host is a loopback name or address.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// HTTPListener returns lis wrapped in the server TLS of o (the same
// certificate, key and client CA as gRPC, so mTLS applies to browsers
// too), or lis itself when TLS is off.
func (o *Options) HTTPListener(lis net.Listener) (net.Listener, error) {
	cfg, err := o.serverTLSConfig()
	if err != nil || cfg == nil {
		return lis, err
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return tls.NewListener(lis, cfg), nil
}

// HTTPScheme is "https" when o serves TLS, else "http", for the URL a
// binary logs.
func (o *Options) HTTPScheme() string {
	if o.serverTLS() {
		return "https"
	}
	return "http"
}

// HTTPAuth puts next behind o's bearer token, the one gRPC checks; with no
// token it returns next. A request passes with "Authorization: Bearer
// <token>" (scripts, curl) or the session cookie a login sets (browsers);
// the paths in open (a health probe) pass without. Others get 401 and a
// login form that posts the token to LoginPath, which sets the cookie
// (HttpOnly, SameSite=Strict, Secure over TLS) and redirects back.
// Comparisons run in constant time on digests, as for gRPC.
func (o *Options) HTTPAuth(next http.Handler, open ...string) http.Handler {
	if o.AuthToken == "" {
		return next
	}
	want := sha256.Sum256([]byte(o.AuthToken))
	mac := hmac.New(sha256.New, []byte(o.AuthToken))
	mac.Write([]byte("alur dashboard session v1"))
	session := hex.EncodeToString(mac.Sum(nil))
	isOpen := make(map[string]bool, len(open))
	for _, p := range open {
		isOpen[p] = true
	}
	tokenOK := func(tok string) bool {
		if checkToken(tok) != nil {
			return false
		}
		got := sha256.Sum256([]byte(tok))
		return subtle.ConstantTimeCompare(got[:], want[:]) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isOpen[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == LoginPath && r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if err := r.ParseForm(); err == nil && tokenOK(r.PostForm.Get("token")) {
				http.SetCookie(w, &http.Cookie{
					Name: SessionCookie, Value: session, Path: "/",
					HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
				})
				http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
				return
			}
			loginPage(w, r.PostForm.Get("next"), true)
			return
		}
		if vals := r.Header.Values("Authorization"); len(vals) == 1 {
			if tok, ok := parseBearer(vals[0]); ok && tokenOK(tok) {
				next.ServeHTTP(w, r)
				return
			}
		}
		if c, err := r.Cookie(SessionCookie); err == nil && hmac.Equal([]byte(c.Value), []byte(session)) {
			next.ServeHTTP(w, r)
			return
		}
		loginPage(w, r.URL.RequestURI(), false)
	})
}

// localPath returns p when it is a path on this site, else "/": the login
// never redirects elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>alur: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1>Sign in</h1>
<p>This dashboard needs the access token of the alur services.</p>
{{if .Failed}}<p role="alert"><strong>That token is not right.</strong></p>{{end}}
<form method="post" action="/login">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<input type="hidden" name="next" value="{{.Next}}">
<button type="submit">Sign in</button>
</form></body></html>
`))

// loginPage answers 401 with the login form, coming back to next.
func loginPage(w http.ResponseWriter, next string, failed bool) {
	h := w.Header()
	h.Set("WWW-Authenticate", `Bearer realm="alur"`)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_ = loginTemplate.Execute(w, struct {
		Next   string
		Failed bool
	}{localPath(next), failed})
}
