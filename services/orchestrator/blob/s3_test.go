package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

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
