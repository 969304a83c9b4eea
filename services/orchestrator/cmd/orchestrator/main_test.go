package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

// noRuns is a dashboard source without runs.
type noRuns struct{}

func (noRuns) ListRuns(context.Context, int, string) ([]*orchestratorv1.Run, string, error) {
	return nil, "", nil
}
func (noRuns) GetRun(context.Context, string) (*orchestratorv1.Run, error) {
	return nil, dashboard.ErrNotFound
}
func (noRuns) ListArtifacts(context.Context, string) ([]*orchestratorv1.Artifact, error) {
	return nil, nil
}
func (noRuns) ReadArtifact(context.Context, string) ([]byte, error) {
	return nil, dashboard.ErrNotFound
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key,
// and returns their files and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestDashboardBehindTokenAndTLS serves the dashboard as the binary does,
// with TLS and a token: plain HTTP fails, HTTPS without the token gets the
// sign-in page (401), with the token the runs page, and /healthz is open.
func TestDashboardBehindTokenAndTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	const token = "dashboard-test-token"
	opts := &serverkit.Options{TLSCert: certFile, TLSKey: keyFile, AuthToken: token}
	addr, stop, err := serveDashboard("127.0.0.1:0", opts, noRuns{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	get := func(url string, bearer bool) (int, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if bearer {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, tc := range []struct {
		name   string
		url    string
		bearer bool
		want   int
	}{
		{"https without the token", "https://" + addr + "/", false, http.StatusUnauthorized},
		{"https with the token", "https://" + addr + "/", true, http.StatusOK},
		{"health without the token", "https://" + addr + "/healthz", false, http.StatusOK},
	} {
		if code, err := get(tc.url, tc.bearer); err != nil || code != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, code, err, tc.want)
		}
	}
	if code, err := get("http://"+addr+"/", true); err == nil && code == http.StatusOK {
		t.Error("plain HTTP served the dashboard")
	}
}
