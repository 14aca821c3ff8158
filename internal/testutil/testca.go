package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCA is a certificate authority made for one test: a self-signed root
// that issues server and client certificates. Keys are ECDSA P-256, which
// every TLS stack the tests drive (Go, OpenSSL, GnuTLS in QEMU, NSS in
// Chromium, Node) accepts; certificates are valid from an hour ago for a day.
type TestCA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte // the root certificate, PEM
	Pool    *x509.CertPool
	serial  int64
}

// IssuedCert is a certificate issued by a TestCA, with its private key, in
// the forms the tests need.
type IssuedCert struct {
	Cert    *x509.Certificate
	CertPEM []byte // the leaf certificate, PEM
	KeyPEM  []byte // the private key, PKCS#8 PEM ("PRIVATE KEY"), unencrypted
	TLS     tls.Certificate
}

// NewTestCA makes a root certificate authority named cn. It fails the test on
// error.
func NewTestCA(t testing.TB, cn string) *TestCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("test CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"vncrelay tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("test CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("test CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &TestCA{Cert: cert, Key: key, Pool: pool, serial: 1,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Server issues a server certificate for the given host names and IP
// addresses (each entry is parsed: an IP goes to the IP SANs, anything else
// to the DNS SANs). The first entry is also the subject's common name.
func (ca *TestCA) Server(t testing.TB, hosts ...string) *IssuedCert {
	t.Helper()
	return ca.issue(t, x509.ExtKeyUsageServerAuth, hosts)
}

// Client issues a client certificate with the common name cn.
func (ca *TestCA) Client(t testing.TB, cn string) *IssuedCert {
	t.Helper()
	return ca.issue(t, x509.ExtKeyUsageClientAuth, []string{cn})
}

func (ca *TestCA) issue(t testing.TB, usage x509.ExtKeyUsage, names []string) *IssuedCert {
	t.Helper()
	if len(names) == 0 {
		t.Fatal("test CA: a certificate needs a name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("test certificate key: %v", err)
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"vncrelay tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		for _, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, n)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatalf("test certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("test certificate: %v", err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("test certificate key: %v", err)
	}
	ic := &IssuedCert{Cert: cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})}
	ic.TLS, err = tls.X509KeyPair(ic.CertPEM, ic.KeyPEM)
	if err != nil {
		t.Fatalf("test certificate pair: %v", err)
	}
	return ic
}

// WriteCA writes the root certificate to dir/name and returns the path.
func (ca *TestCA) WriteCA(t testing.TB, dir, name string) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, name), ca.CertPEM)
}

// Write writes the certificate to dir/<base>-cert.pem and the key to
// dir/<base>-key.pem (mode 0600) and returns both paths.
func (ic *IssuedCert) Write(t testing.TB, dir, base string) (certPath, keyPath string) {
	t.Helper()
	certPath = writeFile(t, filepath.Join(dir, base+"-cert.pem"), ic.CertPEM)
	keyPath = writeFile(t, filepath.Join(dir, base+"-key.pem"), ic.KeyPEM)
	return certPath, keyPath
}

// WriteCombined writes the certificate followed by its key into one PEM file
// (the form websockify's --cert accepts without --key) and returns its path.
func (ic *IssuedCert) WriteCombined(t testing.TB, dir, name string) string {
	t.Helper()
	both := append(append([]byte{}, ic.CertPEM...), ic.KeyPEM...)
	return writeFile(t, filepath.Join(dir, name), both)
}

func writeFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(fmt.Errorf("write %s: %w", path, err))
	}
	return path
}
