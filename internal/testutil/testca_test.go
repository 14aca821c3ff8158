package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// TestTestCAChains checks that issued certificates verify against the CA for
// their use, and that a second CA does not accept them.
func TestTestCAChains(t *testing.T) {
	ca := NewTestCA(t, "test root")
	srv := ca.Server(t, "localhost", "127.0.0.1", "::1")
	cli := ca.Client(t, "client one")
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		usage x509.ExtKeyUsage
		host  string
	}{
		{"server by name", srv.Cert, x509.ExtKeyUsageServerAuth, "localhost"},
		{"server by IPv4", srv.Cert, x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"server by IPv6", srv.Cert, x509.ExtKeyUsageServerAuth, "::1"},
		{"client", cli.Cert, x509.ExtKeyUsageClientAuth, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := x509.VerifyOptions{Roots: ca.Pool, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
			if _, err := tc.cert.Verify(opts); err != nil {
				t.Fatalf("verify: %v", err)
			}
			opts.Roots = NewTestCA(t, "other root").Pool
			if _, err := tc.cert.Verify(opts); err == nil {
				t.Fatal("a certificate verified against a CA that did not issue it")
			}
		})
	}
	dir := t.TempDir()
	combined := srv.WriteCombined(t, dir, "both.pem")
	if _, err := tls.LoadX509KeyPair(combined, combined); err != nil {
		t.Fatalf("combined PEM: %v", err)
	}
	c, k := cli.Write(t, dir, "client")
	if _, err := tls.LoadX509KeyPair(c, k); err != nil {
		t.Fatalf("written pair: %v", err)
	}
}
