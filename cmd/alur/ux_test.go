package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestServerHelpShowsOneDefault: --server's help gives one default, and
// says where it came from.
func TestServerHelpShowsOneDefault(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, `orchestrator address ($ALUR_SERVER overrides the default) (default "localhost:7000")`},
		{map[string]string{serverEnv: "orch:7000"}, `orchestrator address (this default is $ALUR_SERVER) (default "orch:7000")`},
	} {
		a, out, _ := newTestApp(tc.env)
		runMain(context.Background(), []string{"runs", "list", "-h"}, a)
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("help lacks %q:\n%s", tc.want, out)
		}
		if n := strings.Count(out.String(), "default \"") - strings.Count(out.String(), "(default \"20\")") - strings.Count(out.String(), "default \"30s\""); n > 1 {
			t.Errorf("%d quoted defaults:\n%s", n, out)
		}
	}
}

// TestLearningCurveShares: the share column says the share the point
// trained on (10 of 90 rows is 11.1%, not "11%" under a "10%" heading),
// and row counts use thousands separators as everywhere else.
func TestLearningCurveShares(t *testing.T) {
	run := &orchestratorv1.Run{Metric: "accuracy", LearningCurve: []*orchestratorv1.LearningCurvePoint{
		{TrainRows: 10, TrainFraction: 10.0 / 90, TrainScore: 1, ValidationScore: 0.8},
		{TrainRows: 11122, TrainFraction: 1, TrainScore: 1, ValidationScore: 0.9},
	}}
	var b bytes.Buffer
	writeLearningCurve(&b, run)
	got := squeeze(b.String())
	for _, want := range []string{"10 11.1% 1.0000 0.8000", "11,122 100% 1.0000 0.9000"} {
		if !strings.Contains(got, want) {
			t.Errorf("learning curve lacks %q:\n%s", want, got)
		}
	}
}
