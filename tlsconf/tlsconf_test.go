package tlsconf

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

func TestMinVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		err  bool
	}{
		{"", tls.VersionTLS12, false},
		{"default", tls.VersionTLS12, false},
		{"tlsv1_1", tls.VersionTLS11, false},
		{"tlsv1_2", tls.VersionTLS12, false},
		{"TLSv1_3", tls.VersionTLS13, false},
		{"tlsv1", 0, true},
		{"sslv3", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := MinVersion(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("MinVersion(%q) = %x, %v", tc.in, got, err)
			}
		})
	}
}

func TestCiphers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []uint16
		errHas   []string
	}{
		{"empty", "", nil, nil},
		{"openssl names", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, nil},
		{"go names, commas, tls13 ignored", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256",
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, nil},
		{"keywords refused", "HIGH:!aNULL:ECDHE-RSA-AES128-GCM-SHA256", nil, []string{"HIGH", "!aNULL"}},
		{"insecure refused", "RC4-SHA:DES-CBC3-SHA", nil, []string{"RC4-SHA", "DES-CBC3-SHA"}},
		{"only tls13", "TLS_AES_256_GCM_SHA384", nil, []string{"only TLS 1.3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Ciphers(tc.in)
			if len(tc.errHas) > 0 {
				if err == nil {
					t.Fatalf("Ciphers(%q) = %v, want an error", tc.in, got)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("error %q does not name %q", err, s)
					}
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("Ciphers(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// keyFiles writes the test certificate's key in the forms LoadKeyPair
// reads and returns their paths by name.
func keyFiles(t *testing.T, ic *testutil.IssuedCert, dir, password string) map[string]string {
	t.Helper()
	b, _ := pem.Decode(ic.KeyPEM)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := k.(*ecdsa.PrivateKey)
	enc8, err := pkcs8.MarshalPrivateKey(key, []byte(password), nil)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the legacy form is what older OpenSSL writes; the test makes one to read it
	legacy, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", sec1, []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"pkcs8":            ic.KeyPEM,
		"sec1":             pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"pkcs8 encrypted":  pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc8}),
		"legacy encrypted": pem.EncodeToMemory(legacy),
	}
	paths := map[string]string{}
	for name, data := range files {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pem")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestLoadKeyPair(t *testing.T) {
	ca := testutil.NewTestCA(t, "tlsconf CA")
	ic := ca.Server(t, "relay.test")
	dir := t.TempDir()
	certPath, _ := ic.Write(t, dir, "leaf")
	combined := ic.WriteCombined(t, dir, "combined.pem")
	keys := keyFiles(t, ic, dir, "s3cret")
	otherKey := filepath.Join(dir, "other-key.pem")
	if err := os.WriteFile(otherKey, ca.Server(t, "x.test").KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert, key, password, errHas string
	}{
		{"combined PEM in --cert", combined, "", "", ""},
		{"pkcs8", certPath, keys["pkcs8"], "", ""},
		{"sec1", certPath, keys["sec1"], "", ""},
		{"pkcs8 encrypted", certPath, keys["pkcs8 encrypted"], "s3cret", ""},
		{"legacy encrypted", certPath, keys["legacy encrypted"], "s3cret", ""},
		{"encrypted, no password", certPath, keys["pkcs8 encrypted"], "", "--key-password"},
		{"legacy, no password", certPath, keys["legacy encrypted"], "", "--key-password"},
		{"wrong password", certPath, keys["pkcs8 encrypted"], "nope", "wrong password"},
		{"legacy wrong password", certPath, keys["legacy encrypted"], "nope", "wrong password"},
		{"key of another certificate", certPath, otherKey, "", "does not match"},
		{"no key in --cert", certPath, "", "", "no PEM private key"},
		{"missing file", filepath.Join(dir, "absent.pem"), "", "", "read certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadKeyPair(tc.cert, tc.key, tc.password)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one saying %q", err, tc.errHas)
				}
				if tc.password != "" && strings.Contains(err.Error(), tc.password) {
					t.Fatal("the password is in the error")
				}
				return
			}
			if err != nil || !c.Leaf.Equal(ic.Cert) {
				t.Fatalf("LoadKeyPair: %v", err)
			}
		})
	}
}

// TestReload: a reload with good files takes them; one with a bad file keeps
// the configuration in force and says why.
func TestReload(t *testing.T) {
	ca := testutil.NewTestCA(t, "reload CA")
	dir := t.TempDir()
	first := ca.Server(t, "relay.test")
	cert, key := first.Write(t, dir, "leaf")
	s, err := NewServer(ServerOptions{CertFile: cert, KeyFile: key, VerifyClient: true, CAFile: ca.WriteCA(t, dir, "ca.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Leaf().Equal(first.Cert) {
		t.Fatal("first certificate not in force")
	}
	second := ca.Server(t, "relay.test")
	second.Write(t, dir, "leaf")
	if err := s.Reload(); err != nil || !s.Leaf().Equal(second.Cert) {
		t.Fatalf("reload: %v", err)
	}
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad reload: %v", err)
	}
	if !s.Leaf().Equal(second.Cert) {
		t.Fatal("a bad reload replaced the certificate in force")
	}
	got, _ := s.Config().GetConfigForClient(nil)
	if got.ClientAuth != tls.RequireAndVerifyClientCert || got.ClientCAs == nil || got.MinVersion != tls.VersionTLS12 {
		t.Fatalf("configuration served: %+v", got)
	}
}

func TestServerOptionErrors(t *testing.T) {
	ca := testutil.NewTestCA(t, "opts CA")
	dir := t.TempDir()
	cert := ca.Server(t, "relay.test").WriteCombined(t, dir, "c.pem")
	for _, tc := range []struct {
		name   string
		o      ServerOptions
		errHas string
	}{
		{"no cert", ServerOptions{}, "--cert"},
		{"bad version", ServerOptions{CertFile: cert, MinVersion: "tlsv1"}, "--ssl-version"},
		{"bad ciphers", ServerOptions{CertFile: cert, Ciphers: "FOO-BAR"}, "FOO-BAR"},
		{"bad cafile", ServerOptions{CertFile: cert, VerifyClient: true, CAFile: cert + ".absent"}, "--cafile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewServer(tc.o); err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want one naming %q", err, tc.errHas)
			}
		})
	}
}
