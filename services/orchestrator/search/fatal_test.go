package search

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// TestFatal decides on error kinds: a stage that stays away, lost data or
// a cancellation dooms the run; a candidate the stage refuses does not.
func TestFatal(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"stage unavailable", fault.FromStage(status.Error(codes.Unavailable, "down")), true},
		{"wrapped unavailable", fmt.Errorf("after retries: %w", fault.FromStage(status.Error(codes.Unavailable, "down"))), true},
		{"data loss", fault.DataLoss("read artifact x"), true},
		{"stage cancelled", fault.FromStage(status.Error(codes.Canceled, "x")), true},
		{"context cancelled", context.Canceled, true},
		{"bad parameter", fault.FromStage(status.Error(codes.InvalidArgument, "params.k: too large")), false},
		{"too little data", fault.FromStage(status.Error(codes.FailedPrecondition, "one class")), false},
		{"deadline", fault.FromStage(status.Error(codes.DeadlineExceeded, "slow")), false},
		// Text alone decides nothing.
		{"words only", errors.New("Unavailable: DataLoss: cancelled"), false},
		{"nil", nil, false},
	} {
		if got := Fatal(tc.err); got != tc.want {
			t.Errorf("%s: Fatal = %v, want %v", tc.name, got, tc.want)
		}
	}
}
