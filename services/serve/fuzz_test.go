package serve

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/proto/inference"
)

// FuzzInfer sends arbitrary raw tensors, shapes and data types to a loaded
// model: every answer is a prediction or INVALID_ARGUMENT /
// RESOURCE_EXHAUSTED, never a panic or another code.
func FuzzInfer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, []byte{3, 0, 0, 0, 'r', 'e', 'd'}, []byte{1}, int64(1), "FP64", "BYTES", "BOOL")
	f.Add([]byte{1, 2, 3}, []byte{9, 0, 0, 0}, []byte{}, int64(2), "INT32", "BYTES", "FP32")
	tr, m := fitVersion(f, "decision_tree")
	loaded := &model{name: "churn", version: 1, tr: tr, m: m}
	if err := check(loaded); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, x, color, flag []byte, n int64, tx, tc, tf string) {
		req := &inference.ModelInferRequest{
			Inputs: []*inference.ModelInferRequest_InferInputTensor{
				{Name: "x", Datatype: tx, Shape: []int64{n}},
				{Name: "color", Datatype: tc, Shape: []int64{n, 1}},
				{Name: "flag", Datatype: tf, Shape: []int64{n}},
			},
			RawInputContents: [][]byte{x, color, flag},
		}
		resp, err := infer(loaded, req, 1000)
		switch status.Code(err) {
		case codes.OK:
			if len(resp.GetRawOutputContents()) != 2 {
				t.Fatalf("%d raw outputs", len(resp.GetRawOutputContents()))
			}
		case codes.InvalidArgument, codes.ResourceExhausted:
		default:
			t.Fatalf("unexpected answer: %v", err)
		}
	})
}
