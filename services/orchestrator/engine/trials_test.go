package engine

import (
	"context"
	"testing"
)

// TestTrialStepsBound: a request of Bounded trial steps ends when the
// search stops its trial or when the run ends, and one of unbounded steps
// only with the run.
func TestTrialStepsBound(t *testing.T) {
	for _, tc := range []struct {
		name               string
		bounded, stopTrial bool
		wantDone           bool
	}{
		{name: "unbounded", wantDone: false},
		{name: "bounded, trial goes on", bounded: true, wantDone: false},
		{name: "bounded, trial stopped", bounded: true, stopTrial: true, wantDone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, endRun := context.WithCancel(context.Background())
			defer endRun()
			cut, stopTrial := context.WithCancel(context.Background())
			defer stopTrial()
			s := trialSteps{}
			if tc.bounded {
				s = s.Within(cut).(trialSteps)
			}
			ctx, release := s.bound(run)
			defer release()
			if tc.stopTrial {
				stopTrial()
				<-ctx.Done() // AfterFunc ends the request; no waiting on a clock
			}
			if done := ctx.Err() != nil; done != tc.wantDone {
				t.Errorf("request ended %v, want %v", done, tc.wantDone)
			}
			endRun()
			if ctx.Err() == nil {
				t.Error("request goes on after the run ended")
			}
		})
	}
}
