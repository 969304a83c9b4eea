package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/serverkit"
)

// DefaultURLTimeout bounds a whole URL download when Config does not say.
const DefaultURLTimeout = 5 * time.Minute

// maxRedirects bounds the redirects a URL download follows.
const maxRedirects = 5

// ParseHostList splits --allow-url-host values: each may hold several
// hosts separated by commas. Hosts are lowercased; empty entries are
// dropped.
func ParseHostList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				out = append(out, h)
			}
		}
	}
	return out
}

// urlAllowed reports whether u may be fetched: http or https, and a host
// (or host:port) in the allow-list.
func (s *Server) urlAllowed(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not allowed; use http or https", u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("URLs with credentials are not accepted")
	}
	host := strings.ToLower(u.Hostname())
	hostPort := strings.ToLower(u.Host)
	for _, h := range s.cfg.AllowURLHosts {
		if h == host || h == hostPort {
			return nil
		}
	}
	if len(s.cfg.AllowURLHosts) == 0 {
		return fmt.Errorf("reading URLs is disabled on this server (it has no --allow-url-host)")
	}
	return fmt.Errorf("host %q is not in the server's allow-list (--allow-url-host)", u.Host)
}

// permissionDenied returns codes.PermissionDenied naming the request
// field, with a google.rpc.BadRequest detail like InvalidArgument's.
func permissionDenied(field, description string) error {
	st := status.New(codes.PermissionDenied, field+": "+description)
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}}}
	if d, err := st.WithDetails(br); err == nil {
		st = d
	}
	return st.Err()
}

// redirectDenied stops a redirect to a host outside the allow-list.
type redirectDenied struct {
	to     string
	reason error
}

func (e *redirectDenied) Error() string {
	return fmt.Sprintf("redirect to %s refused: %v", e.to, e.reason)
}

// fetchURL downloads raw into a spool file, bounded by the size limit and
// the URL timeout, following redirects only to allowed hosts. The caller
// removes the file with removeSpool. Errors are gRPC statuses naming
// "url".
func (s *Server) fetchURL(ctx context.Context, raw string) (*os.File, int64, error) {
	if raw == "" {
		return nil, 0, serverkit.InvalidArgument("url", "is empty")
	}
	u, err := url.Parse(raw)
	if err == nil && u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return nil, 0, permissionDenied("url", fmt.Sprintf("scheme %q is not allowed; use http or https", u.Scheme))
	}
	if err != nil || u.Host == "" {
		return nil, 0, serverkit.InvalidArgument("url", fmt.Sprintf("%q is not an absolute http(s) URL", raw))
	}
	if err := s.urlAllowed(u); err != nil {
		return nil, 0, permissionDenied("url", err.Error())
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.cfg.URLTimeout)
	defer cancel()
	// timedOut maps the end of the download's context: the caller's own
	// cancellation or deadline, or the URL timeout.
	timedOut := func() error {
		if err := parent.Err(); err != nil {
			return serverkit.FromContext(err)
		}
		if ctx.Err() != nil {
			return serverkit.Errorf(codes.DeadlineExceeded, "url: the download took longer than %v", s.cfg.URLTimeout)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, serverkit.InvalidArgument("url", err.Error())
	}
	resp, err := s.http.Do(req)
	if err != nil {
		var rd *redirectDenied
		if errors.As(err, &rd) {
			return nil, 0, permissionDenied("url", rd.Error())
		}
		if st := timedOut(); st != nil {
			return nil, 0, st
		}
		return nil, 0, serverkit.Errorf(codes.Unavailable, "url: %v", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, 0, serverkit.Errorf(codes.NotFound, "url: %s answered %s", u.Redacted(), resp.Status)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, 0, serverkit.Errorf(codes.Unavailable, "url: %s answered %s", u.Redacted(), resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, 0, serverkit.Errorf(codes.FailedPrecondition, "url: %s answered %s", u.Redacted(), resp.Status)
	}
	if resp.ContentLength > s.cfg.MaxUploadBytes {
		return nil, 0, serverkit.ResourceExhausted("max_upload_bytes", fmt.Sprintf("the URL's body has %d bytes; the server accepts files of at most %d", resp.ContentLength, s.cfg.MaxUploadBytes))
	}
	f, n, err := s.spool(func() (io.ReadCloser, error) { return resp.Body, nil })
	if err != nil {
		if st := timedOut(); st != nil {
			return nil, 0, st
		}
		if _, ok := status.FromError(err); ok {
			return nil, 0, err
		}
		return nil, 0, toStatus(err, "url")
	}
	return f, n, nil
}

// newHTTPClient returns the client URL reads use: bounded dial, TLS and
// header timeouts, no proxy from the environment (the allow-list names the
// hosts actually contacted), and a redirect policy that re-checks every
// hop against the allow-list.
func (s *Server) newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if err := s.urlAllowed(req.URL); err != nil {
				return &redirectDenied{to: req.URL.Redacted(), reason: err}
			}
			return nil
		},
	}
}
