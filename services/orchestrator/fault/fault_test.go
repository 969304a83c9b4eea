package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestFromStageKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   error
		kind error
		code codes.Code
	}{
		{"unavailable", status.Error(codes.Unavailable, "down"), ErrStageUnavailable, codes.Unavailable},
		{"data loss", status.Error(codes.DataLoss, "gone"), ErrDataLoss, codes.DataLoss},
		{"stage cancelled", status.Error(codes.Canceled, "x"), ErrCancelled, codes.Canceled},
		{"context cancelled", context.Canceled, ErrCancelled, codes.Canceled},
		{"deadline", status.Error(codes.DeadlineExceeded, "slow"), ErrDeadline, codes.DeadlineExceeded},
		{"bad option", status.Error(codes.InvalidArgument, "options.label: no"), ErrRejected, codes.InvalidArgument},
		{"plain", errors.New("boom"), ErrInternal, codes.Internal},
	} {
		err := FromStage(tc.in)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v is not %v", tc.name, err, tc.kind)
		}
		wrapped := fmt.Errorf("learning curve: %w", err)
		if !errors.Is(wrapped, tc.kind) || Code(wrapped) != tc.code || status.Code(wrapped) != tc.code {
			t.Errorf("%s: wrapped: kind lost or code %v/%v, want %v", tc.name, Code(wrapped), status.Code(wrapped), tc.code)
		}
	}
	if FromStage(nil) != nil {
		t.Error("FromStage(nil) is not nil")
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{FromStage(status.Error(codes.InvalidArgument, "options.label: no")), "InvalidArgument: options.label: no"},
		{Field("spec.objective.metric", "%q does not apply", "r2"), `InvalidArgument: spec.objective.metric: "r2" does not apply`},
		{DataLoss("read artifact %s", "ab"), "DataLoss: read artifact ab"},
		{context.Canceled, "cancelled"},
		{fmt.Errorf("at 10 rows: %w", FromStage(status.Error(codes.Unavailable, "down"))), "Unavailable: at 10 rows: down"},
	} {
		if got := Describe(tc.err); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
