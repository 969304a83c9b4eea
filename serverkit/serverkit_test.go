package serverkit

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// panicky is a train service whose ListAlgorithms panics, to prove
// recovery.
type panicky struct {
	trainv1.UnimplementedTrainServiceServer
}

func (panicky) ListAlgorithms(context.Context, *trainv1.ListAlgorithmsRequest) (*trainv1.ListAlgorithmsResponse, error) {
	panic("boom")
}

func TestHealthAndRecovery(t *testing.T) {
	conn, stop := NewInProcess(func(*grpc.Server) {})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", resp, err)
	}

	// A panicking handler answers Internal and the server keeps serving.
	conn2, stop2 := NewInProcess(func(s *grpc.Server) { trainv1.RegisterTrainServiceServer(s, panicky{}) })
	defer stop2()
	client := trainv1.NewTrainServiceClient(conn2)
	for i := 0; i < 2; i++ {
		_, err = client.ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{})
		if status.Code(err) != codes.Internal {
			t.Fatalf("call %d: got %v, want Internal", i, err)
		}
	}
	resp, err = healthpb.NewHealthClient(conn2).Check(ctx, &healthpb.HealthCheckRequest{Service: "alur.train.v1.TrainService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after panic: %v %v", resp, err)
	}
}

func TestInvalidArgumentNamesField(t *testing.T) {
	err := InvalidArgument("options.label", "column \"x\" not found")
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != `options.label: column "x" not found` {
		t.Fatalf("got %v", st)
	}
	if f := FieldViolations(err); len(f) != 1 || f[0] != "options.label" {
		t.Fatalf("field violations %v", f)
	}
	if c := status.Code(ResourceExhausted("max_rows", "more than 10 rows")); c != codes.ResourceExhausted {
		t.Fatalf("code %v", c)
	}
	w := Wrap(err, "prepare")
	if status.Code(w) != codes.InvalidArgument || len(FieldViolations(w)) != 1 {
		t.Fatalf("wrap lost code or details: %v", w)
	}
}
