package serverkit

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// rawCodec sends and receives raw bytes, so a test can put any frame on
// the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestMalformedMessageIsInvalidArgument sends frames that are not valid
// protobuf to a unary, a server-streaming and a bidirectional method: each
// must answer InvalidArgument (grpc-go's default is Internal), and a valid
// call on the same server still works.
func TestMalformedMessageIsInvalidArgument(t *testing.T) {
	conn, stop := NewInProcess(func(*grpc.Server) {})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	frames := map[string][]byte{
		"truncated length":  {0x0a, 0xff},
		"bad wire type":     {0x0f},
		"invalid utf-8":     {0x0a, 0x02, 0xff, 0xfe},
		"varint overflow":   {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"zero field number": {0x00, 0x01},
	}
	raw := grpc.ForceCodecV2(rawCodec{})
	for name, frame := range frames {
		t.Run(name, func(t *testing.T) {
			var out []byte
			err := conn.Invoke(ctx, "/grpc.health.v1.Health/Check", &frame, &out, raw)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("unary Check: got %v, want InvalidArgument", err)
			}
			for _, m := range []struct {
				method string
				desc   grpc.StreamDesc
			}{
				{"/grpc.health.v1.Health/Watch", grpc.StreamDesc{ServerStreams: true}},
				{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", grpc.StreamDesc{ServerStreams: true, ClientStreams: true}},
			} {
				cs, err := conn.NewStream(ctx, &m.desc, m.method, raw)
				if err != nil {
					t.Fatalf("%s: %v", m.method, err)
				}
				if err := cs.SendMsg(&frame); err != nil {
					t.Fatalf("%s send: %v", m.method, err)
				}
				_ = cs.CloseSend()
				if err := cs.RecvMsg(&out); status.Code(err) != codes.InvalidArgument {
					t.Errorf("%s: got %v, want InvalidArgument", m.method, err)
				}
			}
		})
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("valid call after malformed ones: %v %v", resp, err)
	}
}
