package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
)

// writePKI makes a CA and one certificate signed by it for 127.0.0.1 and
// localhost, good for both server and client authentication, and writes
// them as PEM files in dir.
func writePKI(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alur test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "alur service"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("service.pem", "CERTIFICATE", leafDER), write("service.key", "PRIVATE KEY", keyDER)
}

// TestSecureCluster runs every service with mTLS and a bearer token: the
// orchestrator reaches the stages over mTLS with the token, a pipeline and
// the CLI work with the right credentials, and a client lacking any one of
// them is refused.
func TestSecureCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	dir := t.TempDir()
	ca, cert, key := writePKI(t, dir)
	token := "s3cret-" + strings.Repeat("x", 20)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clientFlags := []string{"--tls-ca", ca, "--tls-client-cert", cert, "--tls-client-key", key, "--auth-token-file", tokenFile}
	serverFlags := []string{"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca, "--auth-token-file", tokenFile}
	opts := &serverkit.Options{TLSCA: ca, TLSClientCert: cert, TLSClientKey: key, AuthToken: token}
	dopts, err := opts.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	secureMu.Lock()
	secureDialOpts = dopts
	secureMu.Unlock()
	t.Cleanup(func() {
		secureMu.Lock()
		secureDialOpts = nil
		secureMu.Unlock()
	})
	extra := map[string][]string{}
	for _, name := range services {
		extra[name] = serverFlags
	}
	extra["orchestrator"] = append(append([]string{}, serverFlags...), "--tls-ca", ca, "--tls-client-cert", cert, "--tls-client-key", key)
	c := startCluster(t, extra)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start, err := c.client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species",
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if run := waitRun(t, c.client, start.GetRun().GetId()); run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run over mTLS: %v %s", run.GetState(), run.GetError())
	}

	// The CLI with the same credentials.
	out, err := exec.Command(filepath.Join(c.bin, "alur"), append([]string{"runs", "list", "--server", c.addrs["orchestrator"]}, clientFlags...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), start.GetRun().GetId()) {
		t.Fatalf("alur runs list over mTLS: %v\n%s", err, out)
	}

	// Clients missing a credential are refused.
	call := func(opts ...grpc.DialOption) error {
		conn, err := serverkit.Dial(c.addrs["train"], opts...)
		if err != nil {
			return err
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		_, err = trainv1.NewTrainServiceClient(conn).ListAlgorithms(cctx, &trainv1.ListAlgorithmsRequest{})
		return err
	}
	if err := call(dopts...); err != nil {
		t.Fatalf("full credentials refused: %v", err)
	}
	noToken, _ := (&serverkit.Options{TLSCA: ca, TLSClientCert: cert, TLSClientKey: key}).DialOptions()
	if err := call(noToken...); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: got %v, want Unauthenticated", err)
	}
	wrongToken, _ := (&serverkit.Options{TLSCA: ca, TLSClientCert: cert, TLSClientKey: key, AuthToken: "wrong"}).DialOptions()
	if err := call(wrongToken...); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong token: got %v, want Unauthenticated", err)
	}
	noCert, _ := (&serverkit.Options{TLSCA: ca, AuthToken: token}).DialOptions()
	if err := call(noCert...); err == nil {
		t.Error("a client without a certificate was served")
	}
	if err := call(); err == nil {
		t.Error("a plaintext client was served")
	}
	// The token never reaches the logs.
	for name, p := range c.procs {
		if strings.Contains(p.log.String(), token) {
			t.Errorf("%s logged the bearer token", name)
		}
	}
}
