package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// benchTLS is the certificate relays that take TLS are given, made once per
// process: self-signed, ECDSA P-256 (or RSA 2048, see SetTLS), for
// 127.0.0.1, its key in the same PEM file (the form websockify's --cert and
// HAProxy's crt both take).
var benchTLS struct {
	once  sync.Once
	key   string // "p256" or "rsa2048"
	pem   []byte
	roots *x509.CertPool
	err   error

	resume  bool
	configs sync.Map // relay address -> *tls.Config with its own session cache
}

// TLS certificate key types SetTLS takes.
const (
	TLSKeyP256    = "p256"    // ECDSA P-256, the default
	TLSKeyRSA2048 = "rsa2048" // RSA 2048 bits
)

// SetTLS chooses the key type of the harness's certificate (TLSKeyP256 when
// empty) and whether the clients resume TLS sessions (tickets, one session
// cache per relay address: a client offers the last ticket that relay
// gave). Call it before any scenario runs; an unknown key type is an error.
func SetTLS(key string, resume bool) error {
	switch key {
	case "":
		key = TLSKeyP256
	case TLSKeyP256, TLSKeyRSA2048:
	default:
		return fmt.Errorf("tls key %q: want %s or %s", key, TLSKeyP256, TLSKeyRSA2048)
	}
	benchTLS.key, benchTLS.resume = key, resume
	return nil
}

// TLSCertFile writes the harness's certificate and key (one PEM file) into
// dir and returns its path, for the {cert} placeholder.
func TLSCertFile(dir string) (string, error) {
	benchTLS.once.Do(func() { benchTLS.pem, benchTLS.roots, benchTLS.err = makeBenchCert() })
	if benchTLS.err != nil {
		return "", benchTLS.err
	}
	p := filepath.Join(dir, "bench-tls.pem")
	if err := os.WriteFile(p, benchTLS.pem, 0o600); err != nil {
		return "", fmt.Errorf("write bench certificate: %w", err)
	}
	return p, nil
}

// clientTLS is the clients' configuration for the relay at addr, a spec
// with TLS: the harness's certificate is the only one trusted; with
// resumption on, the relay's clients share one session cache.
func clientTLS(addr string) *tls.Config {
	if !benchTLS.resume {
		return &tls.Config{RootCAs: benchTLS.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	if c, ok := benchTLS.configs.Load(addr); ok {
		return c.(*tls.Config)
	}
	c, _ := benchTLS.configs.LoadOrStore(addr, &tls.Config{RootCAs: benchTLS.roots, ServerName: "127.0.0.1",
		MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(1)})
	return c.(*tls.Config)
}

func makeBenchCert() ([]byte, *x509.CertPool, error) {
	var key crypto.Signer
	var err error
	if benchTLS.key == TLSKeyRSA2048 {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vncrelay-bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if benchTLS.key == TLSKeyRSA2048 {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})...), pool, nil
}

// HAProxyTLSConfig is the deployment operators use today in front of a
// plain relay: HAProxy terminating TLS and passing the bytes to the relay
// at backend. It runs in TCP mode, HAProxy's cheapest for this (no HTTP
// parsing; the upgrade and frames pass through as bytes), with as many
// threads as CPUs (HAProxy's default), and room for 9,000 connections
// (two descriptors each, within the harness's descriptor limit).
func HAProxyTLSConfig(listen, cert, backend string) string {
	return fmt.Sprintf(`global
	maxconn 9000
	tune.ssl.default-dh-param 2048
defaults
	mode tcp
	timeout connect 10s
	timeout client 1h
	timeout server 1h
frontend wss
	bind %s ssl crt %s alpn http/1.1
	default_backend relay
backend relay
	server relay %s
`, listen, cert, backend)
}

// RunHAProxyFront runs a plain vncrelay (vncrelayArgs, listening on a free
// loopback port) and HAProxy terminating TLS on listen in front of it, both
// as children of this process, so that the harness measures the two
// processes' CPU and memory together. It returns when a signal asks it to
// stop, or when either child exits.
func RunHAProxyFront(dir, listen, cert string, vncrelayArgs []string) error {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy" // Debian installs it outside a user's PATH
		if _, serr := os.Stat(bin); serr != nil {
			return fmt.Errorf("haproxy peer: %w (apt-get install haproxy)", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	backend := "127.0.0.1:" + strconv.Itoa(port)
	conf := filepath.Join(dir, "haproxy-"+filepath.Base(listen)+".cfg")
	if err := os.WriteFile(conf, []byte(HAProxyTLSConfig(listen, cert, backend)), 0o600); err != nil {
		return fmt.Errorf("haproxy peer: write config: %w", err)
	}
	relay := exec.Command(vncrelayArgs[0], append(vncrelayArgs[1:], backend)...)
	relay.Stdout, relay.Stderr = os.Stderr, os.Stderr
	if err := relay.Start(); err != nil {
		return fmt.Errorf("haproxy peer: start vncrelay: %w", err)
	}
	hap := exec.Command(bin, "-db", "-f", conf)
	hap.Stdout, hap.Stderr = os.Stderr, os.Stderr
	if err := hap.Start(); err != nil {
		_ = relay.Process.Kill()
		_ = relay.Wait()
		return fmt.Errorf("haproxy peer: start haproxy: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	exited := make(chan string, 2)
	go func() { _ = relay.Wait(); exited <- "vncrelay" }()
	go func() { _ = hap.Wait(); exited <- "haproxy" }()
	var why error
	select {
	case <-sigs:
	case who := <-exited:
		why = fmt.Errorf("haproxy peer: %s exited", who)
	}
	_ = relay.Process.Signal(syscall.SIGTERM)
	_ = hap.Process.Signal(syscall.SIGTERM)
	return why
}
