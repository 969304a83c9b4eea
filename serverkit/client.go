package serverkit

import (
	"context"
	"log/slog"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/test/bufconn"
)

// retryServiceConfig spreads calls over every address the target resolves
// to (round robin: several replicas of a stage share the work) and retries
// calls that fail with UNAVAILABLE, and only those: Unavailable is the one
// code alur clients treat as transient.
const retryServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
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

// Dial returns a client connection to addr (plaintext unless opts carry
// credentials, such as those of Options.DialOptions; alur binds loopback by
// default) that retries UNAVAILABLE with backoff. addr is a host:port, a
// gRPC target such as "dns:///train.alur.svc:7003" (every address DNS
// returns is used), or a comma-separated list of host:port replicas; calls
// are spread over the replicas round robin.
func Dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if strings.Contains(addr, ",") {
		var state resolver.State
		for _, a := range strings.Split(addr, ",") {
			if a = strings.TrimSpace(a); a != "" {
				state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
			}
		}
		r := manual.NewBuilderWithScheme("alur-replicas")
		r.InitialState(state)
		opts = append(opts, grpc.WithResolvers(r))
		addr = r.Scheme() + ":///replicas"
	}
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(retryServiceConfig),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
		grpc.WithInitialWindowSize(StreamWindowBytes),
		grpc.WithInitialConnWindowSize(ConnWindowBytes),
		grpc.WithWriteBufferSize(TransportBufferBytes),
		grpc.WithReadBufferSize(TransportBufferBytes),
		grpc.WithChainUnaryInterceptor(clientMetrics.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(clientMetrics.StreamClientInterceptor()),
	}, opts...)
	return grpc.NewClient(addr, opts...)
}

// NewInProcess starts a server with the standard interceptors on an
// in-memory listener (bufconn), lets register add services, and returns a
// client connection to it and a function that stops both. Tests use it to
// exercise real handlers, interceptors and streaming without ports.
func NewInProcess(register func(*grpc.Server)) (*grpc.ClientConn, func()) {
	return newInProcess(slog.New(slog.DiscardHandler), nil, nil, register)
}

// newInProcess is NewInProcess with a logger and extra server and dial
// options, for the tests of those options.
func newInProcess(logger *slog.Logger, sopts []grpc.ServerOption, dopts []grpc.DialOption, register func(*grpc.Server)) (*grpc.ClientConn, func()) {
	lis := bufconn.Listen(4 << 20)
	srv := NewGRPCServer(logger, sopts...)
	register(srv.GRPC)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, lis); close(done) }()
	dopts = append([]grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	})}, dopts...)
	conn, err := Dial("passthrough:///bufnet", dopts...)
	if err != nil {
		panic("serverkit: in-process dial: " + err.Error())
	}
	return conn, func() {
		_ = conn.Close()
		cancel()
		<-done
	}
}
