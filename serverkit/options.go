package serverkit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// AuthTokenEnv is the environment variable that holds the bearer token when
// no --auth-token-file is given. The token is never a plain flag value, so
// it does not show in the process list.
const AuthTokenEnv = "ALUR_AUTH_TOKEN"

// Options are the operational settings every alur server and client shares:
// transport security, the bearer token, the metrics endpoint and tracing.
// The zero value means plaintext, no token, no metrics endpoint and no
// tracing: alur's loopback default. With tracing on, call Shutdown once the
// servers and clients built from the Options are done, to flush spans.
type Options struct {
	// TLSCert and TLSKey are the server's certificate chain and private key
	// (PEM files). Setting both turns TLS on for the server, and for the
	// clients built from the same Options: a process that serves TLS speaks
	// TLS to its peers too.
	TLSCert, TLSKey string
	// TLSClientCA is a PEM bundle of the CAs that sign client certificates.
	// When set, servers require and verify a client certificate (mTLS).
	TLSClientCA string

	// TLS makes clients use TLS even when no other client TLS setting is
	// given; servers are then verified against the system roots.
	TLS bool
	// TLSCA is the PEM bundle clients verify servers with; empty with TLS
	// on means the system roots.
	TLSCA string
	// TLSClientCert and TLSClientKey are the client's certificate and key
	// (PEM files) for servers that require mTLS.
	TLSClientCert, TLSClientKey string
	// TLSServerName overrides the name clients expect in the server's
	// certificate (by default the host of the address dialled).
	TLSServerName string

	// AuthToken is the shared bearer token. Servers require it on every
	// RPC except grpc.health.v1 and server reflection (probes and grpcurl
	// list stay anonymous); clients send it. It comes from
	// --auth-token-file or $ALUR_AUTH_TOKEN and is never logged.
	AuthToken string

	// MetricsAddr is where MainWith serves Prometheus metrics at /metrics,
	// such as "localhost:9090"; empty turns the endpoint off (the
	// counters are kept either way, they are cheap).
	MetricsAddr string
	// OTLPEndpoint is the host:port of an OTLP/gRPC trace collector
	// (plaintext: run the collector next to the service). Empty turns
	// tracing off: no tracing code is installed at all.
	OTLPEndpoint string

	// ReadyFile, when set, is a file MainWith writes the address it listens
	// on to (one line, such as "127.0.0.1:40123") once it listens, and
	// removes at exit. With --addr host:0 the kernel picks a free port and
	// a supervisor (a test) learns it there, instead of picking a port
	// that was free a moment ago.
	ReadyFile string
	// MetricsReadyFile, when set with MetricsAddr, is a file MainWith
	// writes the metrics endpoint's address to, like ReadyFile, before it
	// writes ReadyFile: once a supervisor sees the server's address, the
	// metrics address is there too.
	MetricsReadyFile string

	// tracing is the tracer provider shared by the servers and clients
	// built from these Options (and from copies made after it started).
	tracing *tracingState
}

// BindFlags registers every Options flag on fs and returns the Options they
// fill: --tls-cert, --tls-key, --tls-client-ca, --metrics-addr and
// --otlp-endpoint for servers, plus the client flags of BindClientFlags
// (a server that dials other services, like the orchestrator, uses both).
// The token defaults to $ALUR_AUTH_TOKEN. Call it before fs.Parse.
func BindFlags(fs *flag.FlagSet) *Options {
	o := BindClientFlags(fs)
	fs.StringVar(&o.TLSCert, "tls-cert", "", "server certificate chain `file` (PEM); with --tls-key it turns TLS on")
	fs.StringVar(&o.TLSKey, "tls-key", "", "server private key `file` (PEM)")
	fs.StringVar(&o.TLSClientCA, "tls-client-ca", "", "CA bundle `file` (PEM) of client certificates; when set, clients must present a certificate it signed (mTLS)")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "", "`address` serving Prometheus metrics at /metrics, such as localhost:9090 (empty: off)")
	fs.StringVar(&o.OTLPEndpoint, "otlp-endpoint", "", "`host:port` of an OTLP/gRPC trace collector, plaintext (empty: tracing off)")
	fs.StringVar(&o.ReadyFile, "ready-file", "", "`file` to write the address the server listens on to, once it listens (with --addr host:0, the port the kernel picked); removed at exit")
	fs.StringVar(&o.MetricsReadyFile, "metrics-ready-file", "", "`file` to write the address the metrics endpoint listens on to (with --metrics-addr host:0, the port the kernel picked), before --ready-file; removed at exit")
	return o
}

// BindClientFlags registers the flags of a pure client (a CLI): --tls,
// --tls-ca, --tls-client-cert, --tls-client-key, --tls-server-name and
// --auth-token-file, and returns the Options they fill. The token defaults
// to $ALUR_AUTH_TOKEN; --auth-token-file replaces it. Call it before
// fs.Parse.
func BindClientFlags(fs *flag.FlagSet) *Options {
	o := &Options{AuthToken: strings.TrimSpace(os.Getenv(AuthTokenEnv)), tracing: &tracingState{}}
	fs.BoolVar(&o.TLS, "tls", false, "connect with TLS, verifying servers with --tls-ca or else the system roots")
	fs.StringVar(&o.TLSCA, "tls-ca", "", "CA bundle `file` (PEM) to verify servers with; implies TLS")
	fs.StringVar(&o.TLSClientCert, "tls-client-cert", "", "client certificate `file` (PEM) for servers that require mTLS; implies TLS")
	fs.StringVar(&o.TLSClientKey, "tls-client-key", "", "client private key `file` (PEM)")
	fs.StringVar(&o.TLSServerName, "tls-server-name", "", "`name` expected in server certificates (default: the host dialled); implies TLS")
	fs.Func("auth-token-file", "`file` holding the bearer token that servers require and clients send (default $"+AuthTokenEnv+")", func(path string) error {
		tok, err := ReadTokenFile(path)
		if err != nil {
			return err
		}
		o.AuthToken = tok
		return nil
	})
	return o
}

// maxTokenFileBytes bounds how much of a token file is read: a token is a
// short secret, and a mistaken path (a log, a device) must not be slurped.
const maxTokenFileBytes = 64 << 10

// ReadTokenFile reads a bearer token from path, ignoring surrounding white
// space such as the final newline. Errors name the file, never its
// content.
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("auth token file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("auth token file %s: %w", path, err)
	}
	if len(data) > maxTokenFileBytes {
		return "", fmt.Errorf("auth token file %s: larger than %d bytes", path, maxTokenFileBytes)
	}
	tok := strings.TrimSpace(string(data))
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("auth token file %s: %w", path, err)
	}
	return tok, nil
}

// ServerOptions returns the grpc.ServerOptions that o asks for: TLS
// credentials (mTLS with TLSClientCA), the bearer-token check and the
// OpenTelemetry stats handler. Pass them to NewGRPCServer; MainWith does.
// A nil or zero Options gives none.
func (o *Options) ServerOptions() ([]grpc.ServerOption, error) {
	if o == nil {
		return nil, nil
	}
	if err := o.checkShared(); err != nil {
		return nil, err
	}
	var opts []grpc.ServerOption
	cfg, err := o.serverTLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	if o.AuthToken != "" {
		a := newTokenAuth(o.AuthToken)
		opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	}
	if o.OTLPEndpoint != "" {
		h, err := o.serverStatsHandler()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.StatsHandler(h))
	}
	return opts, nil
}

// DialOptions returns the grpc.DialOptions that o asks for: TLS
// credentials (with a client certificate for mTLS), the bearer token on
// every call and the OpenTelemetry stats handler. Pass them to Dial, whose
// plaintext default they override. A nil or zero Options gives none.
func (o *Options) DialOptions() ([]grpc.DialOption, error) {
	if o == nil {
		return nil, nil
	}
	if err := o.checkShared(); err != nil {
		return nil, err
	}
	var opts []grpc.DialOption
	cfg, err := o.clientTLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	}
	if o.AuthToken != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerCredentials{header: "Bearer " + o.AuthToken}))
	}
	if o.OTLPEndpoint != "" {
		h, err := o.clientStatsHandler()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithStatsHandler(h))
	}
	return opts, nil
}

// checkShared validates the settings servers and clients have in common,
// so that a bad token or endpoint fails at start, not on the first call.
func (o *Options) checkShared() error {
	if o.AuthToken != "" {
		if err := checkToken(o.AuthToken); err != nil {
			return fmt.Errorf("auth token (from --auth-token-file or $%s): %w", AuthTokenEnv, err)
		}
	}
	if o.OTLPEndpoint != "" {
		if err := checkHostPort(o.OTLPEndpoint); err != nil {
			return fmt.Errorf("otlp endpoint: %w", err)
		}
	}
	return nil
}

// checkHostPort accepts "host:port" with a numeric port in [1, 65535].
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	p := 0
	for _, c := range port {
		if c < '0' || c > '9' || p > 65535 {
			return fmt.Errorf("%q has no valid port", addr)
		}
		p = p*10 + int(c-'0')
	}
	if port == "" || p < 1 || p > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}

// serverTLS reports whether o turns TLS on for servers.
func (o *Options) serverTLS() bool { return o.TLSCert != "" || o.TLSKey != "" }

// clientTLS reports whether o turns TLS on for clients.
func (o *Options) clientTLS() bool {
	return o.TLS || o.TLSCA != "" || o.TLSClientCert != "" || o.TLSClientKey != "" || o.TLSServerName != "" || o.serverTLS()
}

// minTLSVersion is the oldest protocol alur accepts: TLS 1.2 still has
// sound cipher suites (Go's defaults), older versions do not.
const minTLSVersion = tls.VersionTLS12

// serverTLSConfig builds the server's TLS configuration, or nil when TLS is
// off. The files are read once, here: rotate certificates by restarting.
func (o *Options) serverTLSConfig() (*tls.Config, error) {
	if !o.serverTLS() {
		if o.TLSClientCA != "" {
			return nil, errors.New("tls: --tls-client-ca needs --tls-cert and --tls-key (mTLS runs over TLS)")
		}
		return nil, nil
	}
	if o.TLSCert == "" || o.TLSKey == "" {
		return nil, errors.New("tls: --tls-cert and --tls-key must be set together")
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls: server certificate %s and key %s: %w", o.TLSCert, o.TLSKey, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minTLSVersion}
	if o.TLSClientCA != "" {
		pool, err := loadCertPool(o.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls: --tls-client-ca: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// clientTLSConfig builds the clients' TLS configuration, or nil when TLS is
// off.
func (o *Options) clientTLSConfig() (*tls.Config, error) {
	if !o.clientTLS() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: minTLSVersion, ServerName: o.TLSServerName}
	if o.TLSCA != "" {
		pool, err := loadCertPool(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("tls: --tls-ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if o.TLSClientCert != "" || o.TLSClientKey != "" {
		if o.TLSClientCert == "" || o.TLSClientKey == "" {
			return nil, errors.New("tls: --tls-client-cert and --tls-client-key must be set together")
		}
		cert, err := tls.LoadX509KeyPair(o.TLSClientCert, o.TLSClientKey)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate %s and key %s: %w", o.TLSClientCert, o.TLSClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadCertPool reads a PEM bundle of CA certificates.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// String describes o for humans with the token redacted, so that printing
// an Options by mistake cannot leak the secret.
func (o *Options) String() string {
	if o == nil {
		return "<nil>"
	}
	return fmt.Sprintf("serverkit.Options{server_tls:%t mtls:%t client_tls:%t auth_token:%s metrics_addr:%q otlp_endpoint:%q}",
		o.serverTLS(), o.TLSClientCA != "", o.clientTLS(), redacted(o.AuthToken), o.MetricsAddr, o.OTLPEndpoint)
}

// GoString is String, so that %#v redacts the token too.
func (o *Options) GoString() string { return o.String() }

// LogValue makes slog print o with the token redacted.
func (o *Options) LogValue() slog.Value {
	if o == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.Bool("server_tls", o.serverTLS()),
		slog.Bool("mtls", o.TLSClientCA != ""),
		slog.Bool("client_tls", o.clientTLS()),
		slog.String("auth_token", redacted(o.AuthToken)),
		slog.String("metrics_addr", o.MetricsAddr),
		slog.String("otlp_endpoint", o.OTLPEndpoint),
	)
}

func redacted(secret string) string {
	if secret == "" {
		return "unset"
	}
	return "[redacted]"
}
