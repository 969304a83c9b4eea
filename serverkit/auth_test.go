package serverkit

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// The tokens of these tests are distinctive so that a leak into a log is
// unmistakable.
const (
	rightToken = "s3cret-right-token-7f1c"
	wrongToken = "s3cret-wrong-token-a9e2"
)

// echoTrain answers ListAlgorithms with an empty list, Train by draining
// the stream, and panics on a ListAlgorithms whose metadata asks it to.
type echoTrain struct {
	trainv1.UnimplementedTrainServiceServer
}

func (echoTrain) ListAlgorithms(ctx context.Context, _ *trainv1.ListAlgorithmsRequest) (*trainv1.ListAlgorithmsResponse, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("x-panic")) > 0 {
		panic("asked to panic")
	}
	return &trainv1.ListAlgorithmsResponse{}, nil
}

func (echoTrain) Train(stream trainv1.TrainService_TrainServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func registerEcho(s *grpc.Server) { trainv1.RegisterTrainServiceServer(s, echoTrain{}) }

// metadataPanic asks echoTrain.ListAlgorithms to panic.
func metadataPanic(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-panic", "1")
}

// withToken returns a call option sending tok as a bearer token.
func withToken(tok string) grpc.CallOption {
	return grpc.PerRPCCredentials(bearerCredentials{header: "Bearer " + tok})
}

func TestBearerToken(t *testing.T) {
	sopts, err := (&Options{AuthToken: rightToken}).ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := newInProcess(slog.New(slog.DiscardHandler), sopts, nil, registerEcho)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	train := trainv1.NewTrainServiceClient(conn)

	tests := []struct {
		name string
		opts []grpc.CallOption
		want codes.Code
	}{
		{"missing", nil, codes.Unauthenticated},
		{"wrong", []grpc.CallOption{withToken(wrongToken)}, codes.Unauthenticated},
		{"prefix of the right one", []grpc.CallOption{withToken(rightToken[:len(rightToken)-1])}, codes.Unauthenticated},
		{"right", []grpc.CallOption{withToken(rightToken)}, codes.OK},
	}
	for _, tc := range tests {
		t.Run("unary/"+tc.name, func(t *testing.T) {
			_, err := train.ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{}, tc.opts...)
			if status.Code(err) != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "token-") {
				t.Fatalf("the answer echoes a token: %v", err)
			}
		})
		t.Run("stream/"+tc.name, func(t *testing.T) {
			stream, err := train.Train(ctx, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if status.Code(err) != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// Health and reflection stay open without a token.
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without a token: %v", err)
	}
	rs, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Recv(); err != nil {
		t.Fatalf("reflection without a token: %v", err)
	}
	_ = rs.CloseSend()

	// A client built with DialOptions sends the token on every call.
	dopts, err := (&Options{AuthToken: rightToken}).DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	conn2, stop2 := newInProcess(slog.New(slog.DiscardHandler), sopts, dopts, registerEcho)
	defer stop2()
	if _, err := trainv1.NewTrainServiceClient(conn2).ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{}); err != nil {
		t.Fatalf("client with DialOptions: %v", err)
	}
}

func TestTokenCheck(t *testing.T) {
	a := newTokenAuth(rightToken)
	tests := []struct {
		name   string
		method string
		md     metadata.MD
		ok     bool
	}{
		{"right", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", "Bearer "+rightToken), true},
		{"scheme in lowercase", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", "bearer "+rightToken), true},
		{"extra spaces", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", "Bearer   "+rightToken), true},
		{"no metadata", "/alur.train.v1.TrainService/Train", nil, false},
		{"basic scheme", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", "Basic "+rightToken), false},
		{"bare token", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", rightToken), false},
		{"trailing garbage", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", "Bearer "+rightToken+" x"), false},
		{"two headers", "/alur.train.v1.TrainService/Train", metadata.Pairs("authorization", "Bearer "+rightToken, "authorization", "Bearer "+rightToken), false},
		{"health exempt", "/grpc.health.v1.Health/Check", nil, true},
		{"health watch exempt", "/grpc.health.v1.Health/Watch", nil, true},
		{"reflection exempt", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", nil, true},
		{"reflection v1alpha exempt", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", nil, true},
		{"look-alike not exempt", "/grpc.health.v1.HealthX/Check", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			err := a.check(ctx, tc.method)
			if (err == nil) != tc.ok {
				t.Fatalf("check: %v, want ok=%t", err, tc.ok)
			}
			called := false
			err = a.stream(nil, fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: tc.method}, func(any, grpc.ServerStream) error {
				called = true
				return nil
			})
			if called != tc.ok || (err == nil) != tc.ok {
				t.Fatalf("stream: called=%t err=%v, want ok=%t", called, err, tc.ok)
			}
			if err != nil && status.Code(err) != codes.Unauthenticated {
				t.Fatalf("stream: code %v", status.Code(err))
			}
		})
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f fakeStream) Context() context.Context { return f.ctx }

// TestTokenNeverLogged serves calls with right, wrong and missing tokens,
// a panicking call and a server start, all logging at debug level, and
// checks that neither token appears anywhere in the log.
func TestTokenNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := &Options{AuthToken: rightToken}
	sopts, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := newInProcess(logger, sopts, nil, registerEcho)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	train := trainv1.NewTrainServiceClient(conn)
	for _, opts := range [][]grpc.CallOption{nil, {withToken(wrongToken)}, {withToken(rightToken)}} {
		_, _ = train.ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{}, opts...)
	}
	if _, err := train.ListAlgorithms(metadataPanic(ctx), &trainv1.ListAlgorithmsRequest{}, withToken(rightToken)); status.Code(err) != codes.Internal {
		t.Fatalf("panicking call: %v", err)
	}
	stop()

	// The start-up lines and the Options themselves, printed every way.
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	scancel()
	if err := serve(sctx, logger, o, NewGRPCServer(logger, sopts...), lis, nil); err != nil {
		t.Fatal(err)
	}
	logger.Info("options", "opts", o)
	fmt.Fprintf(&buf, "%v %+v %#v %s\n", o, o, o, o)

	out := buf.String()
	for _, secret := range []string{rightToken, wrongToken} {
		if strings.Contains(out, secret) {
			t.Fatalf("a token appears in the log:\n%s", out)
		}
	}
	for _, want := range []string{"Unauthenticated", "panic in handler", "auth_token=[redacted]", "plaintext"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestBindFlags(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(rightToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad")
	if err := os.WriteFile(badFile, []byte("two "+wrongToken), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(AuthTokenEnv, "from-env")

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o := BindFlags(fs)
	for _, name := range []string{"tls", "tls-cert", "tls-key", "tls-client-ca", "tls-ca", "tls-client-cert", "tls-client-key", "tls-server-name", "auth-token-file", "metrics-addr", "otlp-endpoint", "ready-file"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s not registered", name)
		}
	}
	if fs.Lookup("auth-token") != nil {
		t.Error("the token must not be a plain flag")
	}
	if err := fs.Parse(nil); err != nil || o.AuthToken != "from-env" {
		t.Fatalf("env default: %q %v", o.AuthToken, err)
	}

	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o = BindFlags(fs)
	args := []string{"--auth-token-file", tokenFile, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem", "--metrics-addr", "localhost:9090", "--otlp-endpoint", "localhost:4317"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if o.AuthToken != rightToken || o.TLSCert != "c.pem" || o.TLSKey != "k.pem" || o.TLSClientCA != "ca.pem" || o.MetricsAddr != "localhost:9090" || o.OTLPEndpoint != "localhost:4317" {
		t.Fatalf("parsed %q %q %q %q %q, token ok=%t", o.TLSCert, o.TLSKey, o.TLSClientCA, o.MetricsAddr, o.OTLPEndpoint, o.AuthToken == rightToken)
	}

	// A bad token file fails the parse, naming the file but not its content.
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	BindClientFlags(fs)
	err := fs.Parse([]string{"--auth-token-file", badFile})
	if err == nil || !strings.Contains(err.Error(), badFile) || strings.Contains(err.Error()+usage.String(), wrongToken) {
		t.Fatalf("bad token file: %v", err)
	}
	if fs.Lookup("tls-cert") != nil {
		t.Fatal("client flags include server flags")
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    string
		wantErr bool
	}{
		{"trailing newline", "abc-123\n", "abc-123", false},
		{"surrounding space", "  abc.DEF_~+/=  \r\n", "abc.DEF_~+/=", false},
		{"empty", "", "", true},
		{"only white space", " \n\t", "", true},
		{"inner space", "abc def", "", true},
		{"control character", "abc\x00def", "", true},
		{"non-ASCII", "abcé", "", true},
		{"too long", strings.Repeat("a", MaxTokenBytes+1), "", true},
		{"larger than the read limit", strings.Repeat("a", maxTokenFileBytes+1), "", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("token%d", i))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadTokenFile(path)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %q, %v; want %q, error=%t", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc", "Basic abc", "Bearer", "Bearer ", "Bearer a b", "BEARER \x7f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := parseBearer(v)
		if !ok {
			if tok != "" {
				t.Fatalf("rejected %q but returned %q", v, tok)
			}
			return
		}
		if err := checkToken(tok); err != nil {
			t.Fatalf("accepted %q with an invalid token: %v", v, err)
		}
		if !strings.HasSuffix(v, tok) || !strings.EqualFold(v[:6], "bearer") {
			t.Fatalf("token %q is not the end of %q", tok, v)
		}
		if again, ok := parseBearer("Bearer " + tok); !ok || again != tok {
			t.Fatalf("round trip of %q: %q %t", tok, again, ok)
		}
	})
}

func FuzzCheckToken(f *testing.F) {
	for _, s := range []string{"abc", "", " ", "a b", "é", "\x00", strings.Repeat("x", MaxTokenBytes)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		err := checkToken(tok)
		valid := len(tok) > 0 && len(tok) <= MaxTokenBytes
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] > '~' {
				valid = false
			}
		}
		if (err == nil) != valid {
			t.Fatalf("checkToken(%q) = %v, want valid=%t", tok, err, valid)
		}
	})
}

func FuzzCheckHostPort(f *testing.F) {
	for _, s := range []string{"localhost:4317", "[::1]:4317", "collector", ":4317", "h:0", "h:65536", "h:99999999999999999999", "h:-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if checkHostPort(addr) != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			t.Fatalf("accepted %q", addr)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			t.Fatalf("accepted port %q of %q", port, addr)
		}
	})
}
