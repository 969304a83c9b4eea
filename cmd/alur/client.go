package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/grpc"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

const (
	defaultServer  = "localhost:7000"
	defaultTimeout = 30 * time.Second
	// serverEnv overrides the default of --server, so that a shell can point
	// every command at another orchestrator once.
	serverEnv = "ALUR_SERVER"
)

// clientFlags are the flags every command that talks to an orchestrator
// shares.
type clientFlags struct {
	server  string
	timeout time.Duration
	// sec holds the TLS and bearer-token flags (--tls, --tls-ca,
	// --tls-client-cert, --tls-client-key, --tls-server-name,
	// --auth-token-file; the token may also come from $ALUR_AUTH_TOKEN).
	sec *serverkit.Options
}

// register adds --server and --timeout to fs. The default server comes from
// $ALUR_SERVER when it is set.
func (c *clientFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	def := defaultServer
	if v := getenv(serverEnv); v != "" {
		def = v
	}
	// The flag package prints the default itself; say where it came from.
	usage := "orchestrator `address`"
	if def != defaultServer {
		usage += " (this default is $" + serverEnv + ")"
	} else {
		usage += " ($" + serverEnv + " overrides the default)"
	}
	fs.StringVar(&c.server, "server", def, usage)
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "deadline of each call to the orchestrator (uploads included; not the run itself)")
	c.sec = serverkit.BindClientFlags(fs)
}

// validate checks the flag values once parsed.
func (c *clientFlags) validate(cmd string) error {
	if c.server == "" {
		return usageErrorf(cmd, "--server must not be empty")
	}
	if c.timeout <= 0 {
		return usageErrorf(cmd, "--timeout must be positive, got %v", c.timeout)
	}
	return nil
}

// dial connects to the orchestrator. The connection is lazy: an unreachable
// server shows up as Unavailable on the first call.
func (c *clientFlags) dial() (*client, error) {
	opts, err := c.sec.DialOptions()
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.server, err)
	}
	return dialClient(c.server, c.timeout, opts...)
}

// client is a connection to an OrchestratorService with the deadline that
// every unary call gets.
type client struct {
	addr    string
	timeout time.Duration
	conn    *grpc.ClientConn
	orch    orchestratorv1.OrchestratorServiceClient
}

func dialClient(addr string, timeout time.Duration, opts ...grpc.DialOption) (*client, error) {
	conn, err := serverkit.Dial(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return &client{addr: addr, timeout: timeout, conn: conn, orch: orchestratorv1.NewOrchestratorServiceClient(conn)}, nil
}

// Close releases the connection.
func (c *client) Close() error { return c.conn.Close() }

// callCtx derives the context of one unary call: ctx with the client's
// deadline.
func (c *client) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// wrap attaches the server address and the method to an RPC error so that
// it can be reported precisely (see formatError).
func (c *client) wrap(method string, err error) error {
	if err == nil {
		return nil
	}
	return &rpcError{addr: c.addr, method: method, err: err}
}

// getRun fetches a run's current state.
func (c *client) getRun(ctx context.Context, id string) (*orchestratorv1.Run, error) {
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.GetRun(cctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		return nil, c.wrap("GetRun", err)
	}
	return resp.GetRun(), nil
}
