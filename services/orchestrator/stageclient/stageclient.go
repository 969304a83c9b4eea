package stageclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// ModelPartBytes is the size of the model pieces sent to eval, the size
// train sends them in.
const ModelPartBytes = 512 << 10

// RecvErr returns the server's status when a send failed because the
// server already answered: a client stream's Send returns io.EOF then, and
// the real reason comes from CloseAndRecv.
func RecvErr[T any](stream interface{ CloseAndRecv() (T, error) }, sendErr error) error {
	if errors.Is(sendErr, io.EOF) {
		if _, err := stream.CloseAndRecv(); err != nil {
			return err
		}
	}
	return sendErr
}

// Train streams cfg and the prepared table t to TrainService.Train and
// returns the serialized model, checked against the digest train reports,
// and the result. progress, when not nil, sees every progress message.
func Train(ctx context.Context, c trainv1.TrainServiceClient, cfg *trainv1.TrainConfig, t *table.Table, progress func(*trainv1.TrainProgress)) ([]byte, *trainv1.TrainResult, error) {
	stream, err := c.Train(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Send in the background: train streams progress while it receives.
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			if err := stream.Send(&trainv1.TrainRequest{Part: &trainv1.TrainRequest_Config{Config: cfg}}); err != nil {
				return err
			}
			err := tablepb.Send(t, 0,
				func(sc *datav1.Schema) error {
					return stream.Send(&trainv1.TrainRequest{Part: &trainv1.TrainRequest_Schema{Schema: sc}})
				},
				func(b *datav1.TableBatch) error {
					return stream.Send(&trainv1.TrainRequest{Part: &trainv1.TrainRequest_Batch{Batch: b}})
				})
			if err != nil {
				return err
			}
			return stream.CloseSend()
		}()
	}()
	var model []byte
	var result *trainv1.TrainResult
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch {
		case m.GetProgress() != nil:
			if progress != nil {
				progress(m.GetProgress())
			}
		case m.GetModelPart() != nil:
			model = append(model, m.GetModelPart()...)
		case m.GetResult() != nil:
			result = m.GetResult()
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if result == nil || len(model) == 0 {
		return nil, nil, status.Error(codes.Internal, "train ended without a model")
	}
	sum := sha256.Sum256(model)
	if got := hex.EncodeToString(sum[:]); got != result.GetModelDigest() {
		return nil, nil, status.Errorf(codes.DataLoss, "model digest mismatch: got %s, train said %s", got, result.GetModelDigest())
	}
	return model, result, nil
}

// Evaluate streams a serialized model and a prepared table with its label
// column to EvalService.Evaluate and returns the metrics.
func Evaluate(ctx context.Context, c evalv1.EvalServiceClient, model []byte, t *table.Table, label string) (*datav1.Metrics, error) {
	resp, err := evaluate(ctx, c, model, t, label, false)
	return resp.GetMetrics(), err
}

// evaluate streams one Evaluate call; outputs asks for the raw outputs.
func evaluate(ctx context.Context, c evalv1.EvalServiceClient, model []byte, t *table.Table, label string, outputs bool) (*evalv1.EvaluateResponse, error) {
	stream, err := c.Evaluate(ctx)
	if err != nil {
		return nil, err
	}
	first := true
	send := func(req *evalv1.EvaluateRequest) error {
		if first {
			req.Label, req.ReturnOutputs, first = label, outputs, false
		}
		return stream.Send(req)
	}
	for off := 0; off < len(model); off += ModelPartBytes {
		end := min(off+ModelPartBytes, len(model))
		if err := send(&evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_ModelPart{ModelPart: model[off:end]}}); err != nil {
			return nil, RecvErr(stream, err)
		}
	}
	err = tablepb.Send(t, 0,
		func(sc *datav1.Schema) error {
			return send(&evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Schema{Schema: sc}})
		},
		func(b *datav1.TableBatch) error {
			return send(&evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Batch{Batch: b}})
		})
	if err != nil {
		return nil, RecvErr(stream, err)
	}
	return stream.CloseAndRecv()
}
