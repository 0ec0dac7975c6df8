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
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// selfSignedCert writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "crabkv test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS serves over TLS with a self-signed certificate: a client
// that trusts it works, a plain-text client gets nothing, and the server
// carries on.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	dir := t.TempDir()
	addr, stop := startServe(t, dir, func(string) string { return "" }, "--tls-cert", certFile, "--tls-key", keyFile)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A plain-text client fails its handshake; the server stays up.
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(nc)
	nc.Close()
	if strings.Contains(string(reply), "PONG") {
		t.Fatalf("a plain-text PING was answered over TLS: %q", reply)
	}

	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2,
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	defer c.Close()
	if err := c.Set(ctx, "secret", "value", 0).Err(); err != nil {
		t.Fatalf("SET over TLS: %v", err)
	}
	if got, err := c.Get(ctx, "secret").Result(); err != nil || got != "value" {
		t.Fatalf("GET over TLS = %q, %v", got, err)
	}
	pipe := c.Pipeline()
	for range 100 {
		pipe.Incr(ctx, "unknown") // refused: still a reply per command
		pipe.Set(ctx, "p", "v", 0)
	}
	if _, err := pipe.Exec(ctx); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("pipeline over TLS: %v", err)
	}

	// A client that does not trust the certificate is refused.
	bad := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusting client: %v", err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
}

func TestServeTLSFlags(t *testing.T) {
	certFile, _, _ := selfSignedCert(t, t.TempDir())
	for _, args := range [][]string{
		{"--tls-cert", certFile},
		{"--tls-cert", certFile, "--tls-key", filepath.Join(t.TempDir(), "missing.pem")},
	} {
		var stderr strings.Builder
		code := run(append([]string{"serve", "--dir", t.TempDir(), "--addr", "127.0.0.1:0"}, args...), &env{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" },
		})
		if code == exitOK || !strings.Contains(stderr.String(), "tls") {
			t.Errorf("serve %v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
