package serverkit

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MaxTokenBytes bounds the bearer token: it travels in a header on every
// call, and a longer value is a mistake (a wrong file), not a secret.
const MaxTokenBytes = 4096

// errUnauthenticated is the one answer to a call without the right token.
// It never echoes what the client sent.
var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or invalid bearer token")

// checkToken reports why tok cannot be a bearer token: it must be 1 to
// MaxTokenBytes visible ASCII characters (no spaces or control characters,
// which HTTP/2 headers cannot carry or would mangle). Errors never quote
// the token.
func checkToken(tok string) error {
	if tok == "" {
		return errors.New("is empty")
	}
	if len(tok) > MaxTokenBytes {
		return fmt.Errorf("is longer than %d bytes", MaxTokenBytes)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("has a character other than visible ASCII at byte %d", i)
		}
	}
	return nil
}

// parseBearer extracts the token of an "authorization" header value of the
// form "Bearer <token>" (RFC 6750 section 2.1; the scheme is
// case-insensitive). It reports false for any other shape.
func parseBearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if checkToken(tok) != nil {
		return "", false
	}
	return tok, true
}

// authExempt reports whether a method is open without a token: health
// checks (load balancers and kubelets probe without secrets) and server
// reflection (so `grpcurl list` works; it reveals the public contract
// only).
func authExempt(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1alpha.ServerReflection/")
}

// tokenAuth checks the bearer token of incoming calls. It keeps only the
// SHA-256 of the expected token and compares digests in constant time, so
// neither the content nor the length of the token leaks through timing.
type tokenAuth struct {
	want [sha256.Size]byte
}

func newTokenAuth(token string) *tokenAuth {
	return &tokenAuth{want: sha256.Sum256([]byte(token))}
}

// check answers nil when the call may proceed, errUnauthenticated
// otherwise. Exactly one authorization header is accepted.
func (a *tokenAuth) check(ctx context.Context, fullMethod string) error {
	if authExempt(fullMethod) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return errUnauthenticated
	}
	tok, ok := parseBearer(vals[0])
	if !ok {
		return errUnauthenticated
	}
	got := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(got[:], a.want[:]) != 1 {
		return errUnauthenticated
	}
	return nil
}

func (a *tokenAuth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *tokenAuth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// bearerCredentials sends the token on every call as
// "authorization: Bearer <token>".
type bearerCredentials struct {
	header string
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.header}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials. It is
// false so that loopback and in-cluster plaintext setups (where a mesh
// encrypts) can use a token too; MainWith warns when a server checks a
// token without TLS.
func (bearerCredentials) RequireTransportSecurity() bool { return false }

// String keeps the token out of anything that prints the credentials.
func (bearerCredentials) String() string { return "bearer token [redacted]" }
