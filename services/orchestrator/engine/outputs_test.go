package engine

import (
	"errors"
	"testing"

	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// TestStepOutputsRoundTrip checks each step output decodes back from the
// digests it records, and a record of the wrong length is data loss.
func TestStepOutputsRoundTrip(t *testing.T) {
	p := preparedOutput{Transform: "t", Train: "a", Valid: "b", Test: "c"}
	if got, err := decodePrepared("prepare", p.digests()); err != nil || got != p {
		t.Errorf("prepare: %+v, %v", got, err)
	}
	tr := trainedOutput{Model: "m", Result: "r"}
	if got, err := decodeTrained("train/1", tr.digests()); err != nil || got != tr {
		t.Errorf("train: %+v, %v", got, err)
	}
	if got, err := decodeSingle("test", single{"d"}.digests()); err != nil || got.Digest != "d" {
		t.Errorf("single: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"prepare with 3", func() error { _, err := decodePrepared("prepare", []string{"a", "b", "c"}); return err }()},
		{"train with 1", func() error { _, err := decodeTrained("train/1", []string{"a"}); return err }()},
		{"single with 0", func() error { _, err := decodeSingle("test", nil); return err }()},
	} {
		if !errors.Is(tc.err, fault.ErrDataLoss) {
			t.Errorf("%s: %v, want ErrDataLoss", tc.name, tc.err)
		}
	}
}
