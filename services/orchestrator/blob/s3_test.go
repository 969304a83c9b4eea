package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestS3ErrorMapping(t *testing.T) {
	u, _ := url.Parse("s3://bucket?endpoint=http://127.0.0.1:1")
	s, err := OpenS3(u)
	if err != nil {
		t.Fatal(err)
	}
	refused := &url.Error{Op: "Put", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: neither sentinel
	}{
		{"no such key", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, ErrNotFound},
		{"head 404", minio.ErrorResponse{StatusCode: 404}, ErrNotFound},
		{"no such bucket", minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, nil},
		{"denied", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, nil},
		{"internal error", minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, ErrUnavailable},
		{"service unavailable", minio.ErrorResponse{Code: "ServiceUnavailable", StatusCode: 503}, ErrUnavailable},
		{"slow down", minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, ErrUnavailable},
		{"too many requests", minio.ErrorResponse{StatusCode: 429}, ErrUnavailable},
		{"request timeout", minio.ErrorResponse{Code: "RequestTimeout", StatusCode: 400}, ErrUnavailable},
		{"connection refused", refused, ErrUnavailable},
		{"connection reset mid-body", io.ErrUnexpectedEOF, ErrUnavailable},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), ErrUnavailable},
		{"cancelled", fmt.Errorf("get: %w", context.Canceled), nil},
	} {
		got := s.mapErr(tc.err, "x")
		for _, sentinel := range []error{ErrNotFound, ErrUnavailable} {
			if errors.Is(got, sentinel) != (tc.want == sentinel) {
				t.Errorf("%s: mapErr = %v; matches %v: %v, want %v", tc.name, got, sentinel, errors.Is(got, sentinel), tc.want == sentinel)
			}
		}
		if tc.name == "cancelled" && !errors.Is(got, context.Canceled) {
			t.Errorf("cancelled: mapErr = %v, want context.Canceled kept", got)
		}
	}
}

func TestS3Location(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"s3://b", "s3://b/?region=us-east-1"},
		{"s3://b/p/q/?endpoint=http://127.0.0.1:9000&region=eu-west-1&credentials_file=/etc/creds", "s3://b/p/q/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1"},
	} {
		s, err := Open(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Location(); got != tc.want {
			t.Errorf("Open(%q).Location() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzOpenS3 feeds arbitrary s3:// URLs to Open: it never panics, sends
// nothing, and a store it opens names itself by a URL that opens the
// same store again.
func FuzzOpenS3(f *testing.F) {
	for _, seed := range []string{
		"bucket", "bucket/p/q?endpoint=http://127.0.0.1:9000&region=eu-west-1",
		"b?endpoint=https://h:1&credentials_file=/x&profile=p", "b?endpoint=ftp://h", "b?x=1", "k:s@b", "/p", "b/%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		s, err := Open("s3://" + rest)
		if err != nil {
			return
		}
		again, err := Open(s.Location())
		if err != nil {
			t.Fatalf("Open(%q) gave Location %q, which does not open: %v", rest, s.Location(), err)
		}
		if again.Location() != s.Location() {
			t.Fatalf("Location %q reopens as %q", s.Location(), again.Location())
		}
	})
}

// TestS3StalledBodyIsUnavailable: a server that answers a GET with its
// headers and the first bytes, then keeps the connection open and sends
// nothing, makes the read fail with ErrUnavailable once the idle timeout
// passes, instead of holding the reader for good.
func TestS3StalledBodyIsUnavailable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodGet {
			return
		}
		_, _ = w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select { // stall until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	u, _ := url.Parse("s3://bucket?region=us-east-1&endpoint=" + srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	s, err := OpenS3(u)
	if err != nil {
		t.Fatal(err)
	}
	s.readIdle = 200 * time.Millisecond
	digest := strings.Repeat("ab", 32)
	rc, err := s.Open(context.Background(), digest)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, rc)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("stalled read: %v, want ErrUnavailable", err)
		}
	case <-time.After(time.Minute): // a failure bound, not a timing assertion
		t.Fatal("the stalled read did not end")
	}
}
