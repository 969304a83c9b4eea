package serverkit

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// malformedCodec is the server's protobuf codec. grpc-go answers a message
// its codec cannot decode with codes.Internal, which tells the client the
// server is at fault; a malformed message is the client's fault. So the
// codec does not fail: it resets the message, remembers the decode error
// against it, and the interceptors of NewGRPCServer turn that into
// codes.InvalidArgument before any handler sees the message.
type malformedCodec struct {
	base encoding.CodecV2
	// bad maps a message (a pointer) that failed to decode to its error
	// until an interceptor takes it.
	bad *sync.Map
}

// newMalformedCodec wraps grpc's registered protobuf codec.
func newMalformedCodec() malformedCodec {
	return malformedCodec{base: encoding.GetCodecV2(proto.Name), bad: new(sync.Map)}
}

// Marshal encodes v with the protobuf codec.
func (c malformedCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal decodes data into v; a decode error is recorded for the
// interceptors instead of returned (see malformedCodec).
func (c malformedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.base.Unmarshal(data, v); err != nil {
		if r, ok := v.(interface{ Reset() }); ok {
			r.Reset()
		}
		c.bad.Store(v, err)
	}
	return nil
}

// Name is the protobuf codec's name, so the codec serves every
// "application/grpc" and "application/grpc+proto" call.
func (c malformedCodec) Name() string { return proto.Name }

// take returns the decode error recorded for msg, forgetting it, as an
// InvalidArgument status; nil when msg decoded well.
func (c malformedCodec) take(msg any) error {
	err, ok := c.bad.LoadAndDelete(msg)
	if !ok {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "malformed request message: %v", err)
}

// unary answers InvalidArgument for a request that did not decode.
func (c malformedCodec) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := c.take(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// stream makes every RecvMsg of a stream answer InvalidArgument for a
// message that did not decode.
func (c malformedCodec) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &malformedStream{ServerStream: ss, codec: c})
}

// malformedStream is a server stream whose RecvMsg reports decode errors.
type malformedStream struct {
	grpc.ServerStream
	codec malformedCodec
}

// RecvMsg receives m and fails with InvalidArgument when it did not decode.
func (s *malformedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.codec.take(m)
}
