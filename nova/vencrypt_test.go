package nova

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// vencryptFiles writes a CA, a client certificate and its key, as an
// operator deploys them for Nova, and returns the [vnc] options naming them.
func vencryptFiles(t *testing.T, ca *testutil.TestCA) VNCOptions {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.Client(t, "nova-novncproxy").Write(t, dir, "client")
	return VNCOptions{
		AuthSchemes:        []string{"vencrypt"},
		VeNCryptCACerts:    ca.WriteCA(t, dir, "ca-cert.pem"),
		VeNCryptClientCert: cert,
		VeNCryptClientKey:  key,
	}
}

func TestConsoleSecurity(t *testing.T) {
	ca := testutil.NewTestCA(t, "compute CA")
	files := vencryptFiles(t, ca)
	tests := []struct {
		name    string
		proxy   Proxy
		schemes []string
		want    auth.SecurityProxy
		err     string // "" for none
	}{
		{"none", ProxyNoVNC, []string{"none"}, auth.SecurityProxyRFBNone, ""},
		{"vencrypt", ProxyNoVNC, []string{"vencrypt"}, auth.SecurityProxyRFBVeNCrypt, ""},
		{"vencrypt,none", ProxyNoVNC, []string{"vencrypt", "none"}, auth.SecurityProxyRFBVeNCryptOrNone, ""},
		{"none,vencrypt", ProxyNoVNC, []string{"none", "vencrypt"}, auth.SecurityProxyRFBNoneOrVeNCrypt, ""},
		{"repeats count once, at their first place", ProxyNoVNC, []string{"vencrypt", "none", "vencrypt", "none"}, auth.SecurityProxyRFBVeNCryptOrNone, ""},
		{"empty", ProxyNoVNC, nil, 0, "no scheme given"},
		{"unknown scheme", ProxyNoVNC, []string{"vnc"}, 0, `"vnc" is not one of`},
		{"serial proxy: untouched", ProxySerial, []string{"vencrypt"}, auth.SecurityProxyOff, ""},
		{"spice proxy: untouched", ProxySpiceHTML5, []string{"vencrypt"}, auth.SecurityProxyOff, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := files
			o.AuthSchemes = tt.schemes
			c := &Config{Proxy: tt.proxy, VNC: o}
			mode, cfg, err := c.ConsoleSecurity()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || mode != tt.want {
				t.Fatalf("mode %s, error %v; want %s", mode, err, tt.want)
			}
			if (cfg != nil) != mode.UsesVeNCrypt() {
				t.Fatalf("TLS configuration %v for %s", cfg != nil, mode)
			}
		})
	}
}

func TestVeNCryptTLSOptions(t *testing.T) {
	ca := testutil.NewTestCA(t, "compute CA")
	good := vencryptFiles(t, ca)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, otherKey := ca.Client(t, "other").Write(t, dir, "other")
	tests := []struct {
		name   string
		change func(o *VNCOptions)
		certs  int    // client certificates in the result
		err    string // "" for none
	}{
		{"CA, client certificate and key", func(*VNCOptions) {}, 1, ""},
		{"no client certificate: allowed, as in Nova", func(o *VNCOptions) { o.VeNCryptClientCert, o.VeNCryptClientKey = "", "" }, 0, ""},
		{"no CA", func(o *VNCOptions) { o.VeNCryptCACerts = "" }, 0, "[vnc] vencrypt_ca_certs: required"},
		{"CA file missing", func(o *VNCOptions) { o.VeNCryptCACerts = filepath.Join(dir, "absent.pem") }, 0, "[vnc] vencrypt_ca_certs: open"},
		{"CA file without a certificate", func(o *VNCOptions) { o.VeNCryptCACerts = notPEM }, 0, "holds no PEM certificate"},
		{"certificate without key", func(o *VNCOptions) { o.VeNCryptClientKey = "" }, 0, "vencrypt_client_cert is set without vencrypt_client_key"},
		{"key without certificate", func(o *VNCOptions) { o.VeNCryptClientCert = "" }, 0, "vencrypt_client_key is set without vencrypt_client_cert"},
		{"key of another certificate", func(o *VNCOptions) { o.VeNCryptClientKey = otherKey }, 0, "private key does not match public key"},
		{"certificate file is a key", func(o *VNCOptions) { o.VeNCryptClientCert = otherKey; o.VeNCryptClientKey = otherKey }, 0, "vencrypt_client_cert, vencrypt_client_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			cfg, err := VeNCryptTLS(o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Certificates) != tt.certs || cfg.MinVersion < tls.VersionTLS12 {
				t.Fatalf("%d client certificates, minimum version %x", len(cfg.Certificates), cfg.MinVersion)
			}
		})
	}
}

// TestVeNCryptVerify runs real TLS handshakes between VeNCryptTLS's
// configuration and a Go TLS server standing in for a compute host: the
// chain must verify against vencrypt_ca_certs and be fit for servers; the
// name is not checked, as Nova does not check it.
func TestVeNCryptVerify(t *testing.T) {
	ca := testutil.NewTestCA(t, "compute CA")
	other := testutil.NewTestCA(t, "another CA")
	cfg, err := VeNCryptTLS(vencryptFiles(t, ca))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		server  tls.Certificate
		wantErr bool
	}{
		{"compute certificate named after the host, dialed by IP", ca.Server(t, "compute-1.example").TLS, false},
		{"certificate of another CA", other.Server(t, "compute-1.example").TLS, true},
		{"client certificate used as a server's", ca.Client(t, "compute-1.example").TLS, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientCN, err := handshakeWith(t, cfg, tt.server, ca)
			if tt.wantErr {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("error %v (%T), want a certificate verification error", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if clientCN != "nova-novncproxy" {
				t.Fatalf("server saw client certificate %q", clientCN)
			}
		})
	}
}

// handshakeWith runs a TLS server with cert on 127.0.0.1, requiring client
// certificates from ca, and a client with cfg. It returns the client's error
// and the common name the server saw.
func handshakeWith(t *testing.T, cfg *tls.Config, cert tls.Certificate, ca *testutil.TestCA) (string, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			seen <- ""
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: ca.Pool,
			ClientAuth: tls.RequireAndVerifyClientCert})
		if s.Handshake() != nil || len(s.ConnectionState().PeerCertificates) == 0 {
			seen <- ""
			return
		}
		seen <- s.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, cfg)
	err = tc.Handshake()
	if err != nil {
		c.Close()
		<-seen
		return "", err
	}
	return <-seen, nil
}

// TestTokenStoreNeedsVeNCryptConfig: a VeNCrypt mode without its TLS
// configuration is refused when the store is made, not at the first console.
func TestTokenStoreNeedsVeNCryptConfig(t *testing.T) {
	_, err := NewTokenStore(TokenStoreConfig{Connection: "mysql+pymysql://nova:secret@127.0.0.1/nova",
		Proxy: ProxyNoVNC, Security: auth.SecurityProxyRFBVeNCrypt})
	if err == nil || !strings.Contains(err.Error(), "without a VeNCrypt TLS configuration") {
		t.Fatalf("error %v", err)
	}
}
