package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/serverkit"
)

func withDetails(t *testing.T, st *status.Status, details ...*errdetails.BadRequest) error {
	t.Helper()
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestFormatError(t *testing.T) {
	labelViolation := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "spec.label", Description: `column "foo" not found (available: a, b, c)`},
	}}
	twoViolations := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "spec.label", Description: "required"},
		{Field: "spec.candidates[1].params[\"k\"]", Description: "must be at least 1"},
	}}
	precondition, err := status.New(codes.FailedPrecondition, "run r1 has not succeeded").WithDetails(
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: "STATE", Subject: "run r1", Description: "state is RUNNING"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{
			name: "bad request, message says it all",
			err: &rpcError{addr: "localhost:7000", method: "StartRun", err: withDetails(t,
				status.New(codes.InvalidArgument, `spec.label: column "foo" not found (available: a, b, c)`), labelViolation)},
			want: `alur: invalid argument: spec.label: column "foo" not found (available: a, b, c)`,
		},
		{
			name: "bad request, several violations",
			err: &rpcError{addr: "localhost:7000", method: "StartRun", err: withDetails(t,
				status.New(codes.InvalidArgument, "spec.label: required"), twoViolations)},
			want: "alur: invalid argument: spec.label: required\n  spec.candidates[1].params[\"k\"]: must be at least 1",
		},
		{
			name: "precondition",
			err:  &rpcError{addr: "a:1", method: "Predict", err: precondition.Err()},
			want: "alur: failed precondition: run r1 has not succeeded\n  run r1: state is RUNNING",
		},
		{
			name: "unavailable",
			err:  &rpcError{addr: "localhost:7000", method: "ListRuns", err: status.Error(codes.Unavailable, "connection refused")},
			want: "alur: cannot reach the orchestrator at localhost:7000: is `alur dev` running?\n  (connection refused)",
		},
		{
			name: "not found",
			err:  &rpcError{addr: "x", method: "GetRun", err: status.Error(codes.NotFound, `run "nope" not found`)},
			want: `alur: not found: run "nope" not found`,
		},
		{
			name: "deadline",
			err:  &rpcError{addr: "x", method: "GetRun", err: status.Error(codes.DeadlineExceeded, "context deadline exceeded")},
			want: "alur: deadline exceeded: context deadline exceeded (raise --timeout for slow calls)",
		},
		{
			name: "bare status",
			err:  status.Error(codes.ResourceExhausted, "too many trials"),
			want: "alur: resource exhausted: too many trials",
		},
		{
			name: "status without message",
			err:  &rpcError{addr: "x", method: "GetRun", err: status.Error(codes.Internal, "")},
			want: "alur: internal error",
		},
		{
			name: "plain error",
			err:  fmt.Errorf("spec.yaml: %w", errors.New(`invalid pipeline spec: unknown field "foo"`)),
			want: `alur: spec.yaml: invalid pipeline spec: unknown field "foo"`,
		},
		{
			name: "run failed",
			err:  &runEndedError{runID: "r9", state: "failed", reason: "collect: file not found"},
			want: "alur: run r9 failed: collect: file not found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatError(tc.err); got != tc.want {
				t.Errorf("formatError =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestFlagNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"failed precondition: column \"age\" was numeric; list the column in csv.categorical_columns, or start a new dataset",
			"failed precondition: column \"age\" was numeric; list the column in --categorical, or start a new dataset"},
		{`invalid argument: spec.label: column "foo" not found`, `invalid argument: --label: column "foo" not found`},
		{"spec.source.csv.categorical_columns[2]: the file has no column \"x\"", "--categorical: the file has no column \"x\""},
		{"row 7: bad quote (more than max_bad_rows = 0 bad rows)", "row 7: bad quote (more than --max-bad-rows = 0 bad rows)"},
		{"spec.objective.metric: unknown metric", "--metric: unknown metric"},
		// Prose stays prose; unmapped paths stay as they are.
		{"the label column is empty", "the label column is empty"},
		{"spec.prepare.test_fraction: must be below 1", "spec.prepare.test_fraction: must be below 1"},
	} {
		if got := flagNames(tc.in); got != tc.want {
			t.Errorf("flagNames(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestErrorsNameFlags: the short form's errors name the flags the user
// typed; a spec file's keep the field names the user wrote.
func TestErrorsNameFlags(t *testing.T) {
	f := newFake()
	f.startErr = serverkit.InvalidArgument("spec.label", `column "foo" not found (available: a, b, c)`)
	addr := startFake(t, f)
	csvPath := filepath.Join(t.TempDir(), "d.csv")
	if err := os.WriteFile(csvPath, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _, errb := newTestApp(map[string]string{serverEnv: addr})
	if code := runMain(context.Background(), []string{"run", "--csv", csvPath, "--label", "foo"}, a); code != exitFailure {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if want := "alur: invalid argument: --label: column \"foo\" not found (available: a, b, c)\n"; errb.String() != want {
		t.Errorf("stderr = %q, want %q", errb, want)
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-f", "x.yaml"}, true}, {[]string{"--f=x.yaml"}, true}, {[]string{"--csv", "f"}, false}, {[]string{"--csv", "-f"}, true},
	} {
		if got := specFileGiven(tc.args); got != tc.want {
			t.Errorf("specFileGiven(%v) = %v", tc.args, got)
		}
	}
}
