package serverkit

import (
	"context"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// retryServiceConfig retries calls that fail with UNAVAILABLE, and only
// those: Unavailable is the one code alur clients treat as transient.
const retryServiceConfig = `{
  "methodConfig": [{
    "name": [{}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.1s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// MaxMessageBytes is the receive limit alur clients use. Streams keep each
// message near 1 MiB; the default 4 MiB leaves room for large unary answers.
const MaxMessageBytes = 4 << 20

// Dial returns a client connection to addr (plaintext; alur binds loopback
// by default) that retries UNAVAILABLE with backoff.
func Dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(retryServiceConfig),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
	}, opts...)
	return grpc.NewClient(addr, opts...)
}

// NewInProcess starts a server with the standard interceptors on an
// in-memory listener (bufconn), lets register add services, and returns a
// client connection to it and a function that stops both. Tests use it to
// exercise real handlers, interceptors and streaming without ports.
func NewInProcess(register func(*grpc.Server)) (*grpc.ClientConn, func()) {
	lis := bufconn.Listen(4 << 20)
	srv := NewGRPCServer(slog.New(slog.DiscardHandler))
	register(srv.GRPC)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, lis); close(done) }()
	conn, err := Dial("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	}))
	if err != nil {
		panic("serverkit: in-process dial: " + err.Error())
	}
	return conn, func() {
		_ = conn.Close()
		cancel()
		<-done
	}
}
