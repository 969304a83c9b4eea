package serverkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// testPKI is a throwaway certificate authority with a server and a client
// certificate, plus a second, untrusted authority with a client
// certificate of its own, all written as PEM files in a temporary
// directory.
type testPKI struct {
	caFile                    string
	serverCert, serverKey     string
	clientCert, clientKey     string
	otherCAFile               string
	strangerCert, strangerKey string
	serverNames               []string
	caCert, otherCACert       *x509.Certificate
	caKey, otherCAKey         *ecdsa.PrivateKey
	dir                       string
	serialNumber              int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir(), serverNames: []string{"localhost"}}
	p.caCert, p.caKey, p.caFile = p.newCA(t, "alur test CA", "ca")
	p.otherCACert, p.otherCAKey, p.otherCAFile = p.newCA(t, "untrusted test CA", "other-ca")
	p.serverCert, p.serverKey = p.newLeaf(t, "server", p.caCert, p.caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    p.serverNames,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.clientCert, p.clientKey = p.newLeaf(t, "client", p.caCert, p.caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "alur test client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.strangerCert, p.strangerKey = p.newLeaf(t, "stranger", p.otherCACert, p.otherCAKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "stranger"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

func (p *testPKI) serial() *big.Int {
	p.serialNumber++
	return big.NewInt(p.serialNumber)
}

// newCA makes a self-signed ECDSA P-256 authority.
func (p *testPKI) newCA(t *testing.T, name, file string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          p.serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.dir, file+".pem")
	writePEM(t, path, "CERTIFICATE", der)
	return cert, key, path
}

// newLeaf makes an ECDSA P-256 certificate from tmpl signed by ca and
// writes it and its key; it returns the two file names.
func (p *testPKI) newLeaf(t *testing.T, file string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = p.serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(p.dir, file+".pem")
	keyFile := filepath.Join(p.dir, file+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTCP serves a server built from o on a loopback port and returns its
// address; the server stops when the test ends.
func startTCP(t *testing.T, o *Options, register func(*grpc.Server)) string {
	t.Helper()
	sopts, err := o.ServerOptions()
	if err != nil {
		t.Fatalf("server options: %v", err)
	}
	srv := NewGRPCServer(slog.New(slog.DiscardHandler), sopts...)
	if register != nil {
		register(srv.GRPC)
	}
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, lis); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

// checkHealth calls grpc.health.v1 Check at addr with o's client settings;
// retries are off so that refused handshakes fail at once.
func checkHealth(t *testing.T, addr string, o *Options) error {
	t.Helper()
	dopts, err := o.DialOptions()
	if err != nil {
		t.Fatalf("dial options: %v", err)
	}
	conn, err := Dial(addr, append(dopts, grpc.WithDisableRetry())...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health status %v", resp.GetStatus())
	}
	return err
}

func TestTLSAndMTLS(t *testing.T) {
	p := newTestPKI(t)
	tlsServer := startTCP(t, &Options{TLSCert: p.serverCert, TLSKey: p.serverKey}, nil)
	mtlsServer := startTCP(t, &Options{TLSCert: p.serverCert, TLSKey: p.serverKey, TLSClientCA: p.caFile}, nil)

	tests := []struct {
		name   string
		addr   string
		client *Options
		ok     bool
	}{
		{"tls with the CA", tlsServer, &Options{TLSCA: p.caFile}, true},
		{"tls by name localhost", "localhost:" + port(t, tlsServer), &Options{TLSCA: p.caFile}, true},
		{"tls with server name override", tlsServer, &Options{TLSCA: p.caFile, TLSServerName: "localhost"}, true},
		{"tls, wrong server name", tlsServer, &Options{TLSCA: p.caFile, TLSServerName: "elsewhere.example"}, false},
		{"tls, untrusted CA", tlsServer, &Options{TLSCA: p.otherCAFile}, false},
		{"plaintext client to tls server", tlsServer, &Options{}, false},
		{"mtls without client certificate", mtlsServer, &Options{TLSCA: p.caFile}, false},
		{"mtls with untrusted client certificate", mtlsServer, &Options{TLSCA: p.caFile, TLSClientCert: p.strangerCert, TLSClientKey: p.strangerKey}, false},
		{"mtls with client certificate", mtlsServer, &Options{TLSCA: p.caFile, TLSClientCert: p.clientCert, TLSClientKey: p.clientKey}, true},
		{"server flags imply client tls", mtlsServer, &Options{TLSCert: p.serverCert, TLSKey: p.serverKey, TLSCA: p.caFile, TLSClientCert: p.clientCert, TLSClientKey: p.clientKey}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHealth(t, tc.addr, tc.client)
			if tc.ok && err != nil {
				t.Fatalf("want success, got %v", err)
			}
			if !tc.ok && status.Code(err) != codes.Unavailable {
				t.Fatalf("want Unavailable, got %v", err)
			}
		})
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSOptionErrors(t *testing.T) {
	p := newTestPKI(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := []struct {
		name string
		o    Options
	}{
		{"cert without key", Options{TLSCert: p.serverCert}},
		{"key without cert", Options{TLSKey: p.serverKey}},
		{"client CA without TLS", Options{TLSClientCA: p.caFile}},
		{"missing cert file", Options{TLSCert: missing, TLSKey: p.serverKey}},
		{"mismatched key", Options{TLSCert: p.serverCert, TLSKey: p.clientKey}},
		{"client CA not PEM", Options{TLSCert: p.serverCert, TLSKey: p.serverKey, TLSClientCA: notPEM}},
		{"token with a space", Options{AuthToken: "two words"}},
		{"endpoint without port", Options{OTLPEndpoint: "collector"}},
	}
	for _, tc := range server {
		t.Run("server/"+tc.name, func(t *testing.T) {
			if _, err := tc.o.ServerOptions(); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	client := []struct {
		name string
		o    Options
	}{
		{"client cert without key", Options{TLSClientCert: p.clientCert}},
		{"client key without cert", Options{TLSClientKey: p.clientKey}},
		{"missing CA", Options{TLSCA: missing}},
		{"CA not PEM", Options{TLSCA: notPEM}},
		{"token with a newline", Options{AuthToken: "a\nb"}},
	}
	for _, tc := range client {
		t.Run("client/"+tc.name, func(t *testing.T) {
			if _, err := tc.o.DialOptions(); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	var nilOpts *Options
	if s, err := nilOpts.ServerOptions(); s != nil || err != nil {
		t.Fatalf("nil options: %v %v", s, err)
	}
	if d, err := nilOpts.DialOptions(); d != nil || err != nil {
		t.Fatalf("nil options: %v %v", d, err)
	}
}
