package engine

import (
	"context"

	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// Every step records its outputs on the run as a list of artifact digests
// (Step.output_digests), so a resumed run and the cache can reuse them.
// Each step's output is a struct that says which digest is which; it is
// the only place that knows the order.

// single is the output of a step that stores one artifact: the dataset of
// collect, the profile, the refitted model, a metrics set, the learning
// curve.
type single struct{ Digest string }

func (o single) digests() []string { return []string{o.Digest} }

func decodeSingle(step string, d []string) (single, error) {
	if err := wantOutputs(step, d, 1); err != nil {
		return single{}, err
	}
	return single{Digest: d[0]}, nil
}

// preparedOutput is the output of the prepare step.
type preparedOutput struct {
	Transform, Train, Valid, Test string
}

func (o preparedOutput) digests() []string { return []string{o.Transform, o.Train, o.Valid, o.Test} }

func decodePrepared(step string, d []string) (preparedOutput, error) {
	if err := wantOutputs(step, d, 4); err != nil {
		return preparedOutput{}, err
	}
	return preparedOutput{Transform: d[0], Train: d[1], Valid: d[2], Test: d[3]}, nil
}

// trainedOutput is the output of a trial's train step: the model and
// train's result.
type trainedOutput struct {
	Model, Result string
}

func (o trainedOutput) digests() []string { return []string{o.Model, o.Result} }

func decodeTrained(step string, d []string) (trainedOutput, error) {
	if err := wantOutputs(step, d, 2); err != nil {
		return trainedOutput{}, err
	}
	return trainedOutput{Model: d[0], Result: d[1]}, nil
}

// wantOutputs checks a recorded or cached output list has n digests: any
// other count means the record is damaged.
func wantOutputs(step string, d []string, n int) error {
	if len(d) != n {
		return fault.DataLoss("step %s recorded %d outputs, want %d", step, len(d), n)
	}
	return nil
}

// output is a step's typed output.
type output interface{ digests() []string }

// runStep runs a step whose work returns a typed output, through
// runner.step: the digests are recorded and cached, and decoded back into
// the type when the step was finished before or cached.
func runStep[O output](r *runner, name, key string, decode func(step string, d []string) (O, error), work func(ctx context.Context) (O, string, error)) (O, error) {
	outs, err := r.step(name, key, func(ctx context.Context) ([]string, string, error) {
		o, summary, err := work(ctx)
		if err != nil {
			return nil, "", err
		}
		return o.digests(), summary, nil
	})
	if err != nil {
		var zero O
		return zero, err
	}
	return decode(name, outs)
}
