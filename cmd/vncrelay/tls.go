package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/pflag"

	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/tlsconf"
)

// tlsOptions are websockify's TLS options, and vncrelay's own beside them.
type tlsOptions struct {
	cert, key, keyPassword string
	sslOnly, sslTarget     bool
	verifyClient           bool
	cafile                 string
	version, ciphers       string
	targetCAFile           string
	handshakeTO            time.Duration
	perClientHandshakes    int // --max-tls-handshakes-per-client
	gcPercent              int // --gc-percent; 0 leaves Go's (100, or $GOGC)
	// noDefaultCert: no ./self.pem lookup when cert is "" (Nova's proxies,
	// whose configuration has already said whether a certificate exists).
	noDefaultCert bool
}

// websockifyDefaultCert is websockify's --cert default: TLS is on when the
// file exists in the working directory.
const websockifyDefaultCert = "self.pem"

func (t *tlsOptions) flags(fs *pflag.FlagSet) {
	fs.StringVar(&t.cert, "cert", "", "TLS certificate `FILE` (PEM; the key too unless --key); default self.pem when it exists, as websockify")
	fs.StringVar(&t.key, "key", "", "TLS private key `FILE` (PEM), if not in --cert")
	fs.StringVar(&t.keyPassword, "key-password", "", "password of an encrypted --key (PKCS#8 or legacy PEM)")
	fs.BoolVar(&t.sslOnly, "ssl-only", false, "refuse plain (non-TLS) connections")
	fs.BoolVar(&t.sslTarget, "ssl-target", false, "connect to consoles with TLS (certificate checked against the system CAs or --target-cafile)")
	fs.BoolVar(&t.verifyClient, "verify-client", false, "require a client certificate issued by a CA of --cafile (or the system's)")
	fs.StringVar(&t.cafile, "cafile", "", "`FILE` of CA certificates trusted for client certificates (with --verify-client)")
	fs.StringVar(&t.version, "ssl-version", "default", "minimum TLS version: default (TLS 1.2), tlsv1_1, tlsv1_2, tlsv1_3")
	fs.StringVar(&t.ciphers, "ssl-ciphers", "", "TLS 1.2 cipher suites, OpenSSL names separated by ':' (default: Go's)")
	fs.StringVar(&t.targetCAFile, "target-cafile", "", "`FILE` of CA certificates trusted for consoles' certificates with --ssl-target (default: the system's)")
	durationVar(fs, &t.handshakeTO, "tls-handshake-timeout", "time for a TLS handshake (0: --handshake-timeout)")
	fs.IntVar(&t.perClientHandshakes, "max-tls-handshakes-per-client", 0, "most browser TLS handshakes in progress or waiting from one client address (IPv6: one /64; loopback exempt); over it the connection is closed (0: an eighth of the handshake places, at least 4; -1: no limit)")
	fs.IntVar(&t.gcPercent, "gc-percent", 0, "Go garbage collector target: heap growth over live data, in `PERCENT`, before a collection; -1 turns collection off (0: Go's default, 100, or $GOGC; see docs/TLS.md)")
}

// apply puts the TLS options into cfg. It returns the server certificates
// to reload on SIGHUP, or nil when the port takes no TLS.
func (t *tlsOptions) apply(cfg *engine.Config, log *slog.Logger) (*tlsconf.Server, error) {
	t.applyGCPercent(log)
	cfg.TLSHandshakeTimeout = t.handshakeTO
	cfg.MaxTLSHandshakesPerClient = t.perClientHandshakes
	if t.sslTarget {
		c, err := tlsconf.ClientConfig(t.targetCAFile)
		if err != nil {
			return nil, fmt.Errorf("--target-cafile: %w", err)
		}
		cfg.TargetTLS = c
	} else if t.targetCAFile != "" {
		return nil, errors.New("--target-cafile is for --ssl-target")
	}
	cert := t.cert
	if cert == "" && !t.noDefaultCert {
		if _, err := os.Stat(websockifyDefaultCert); err == nil {
			cert = websockifyDefaultCert
			log.Info("TLS with ./self.pem (websockify's default --cert)")
		}
	}
	if cert == "" {
		if t.sslOnly {
			return nil, errors.New("--ssl-only needs a certificate: give --cert (self.pem not found)")
		}
		if t.key != "" || t.verifyClient || t.ciphers != "" {
			return nil, errors.New("TLS options given without a certificate: give --cert")
		}
		return nil, nil
	}
	if t.cafile != "" && !t.verifyClient {
		log.Warn("--cafile has no effect without --verify-client")
	}
	srv, err := tlsconf.NewServer(tlsconf.ServerOptions{
		CertFile: cert, KeyFile: t.key, KeyPassword: t.keyPassword,
		MinVersion: t.version, Ciphers: t.ciphers,
		VerifyClient: t.verifyClient, CAFile: t.cafile,
	})
	if err != nil {
		return nil, err
	}
	cfg.TLS, cfg.TLSOnly = srv.Config(), t.sslOnly
	logCert(log, "TLS on", srv, "ssl_only", t.sslOnly, "verify_client", t.verifyClient)
	return srv, nil
}

// applyGCPercent sets the collector's target from --gc-percent, when
// given: lower keeps less memory while consoles are being opened and costs
// CPU per console opened (docs/TLS.md, Performance); the relaying itself
// allocates nothing. After a burst of TLS handshakes the engine returns
// the free memory anyway (engine/tlsmem.go).
func (t *tlsOptions) applyGCPercent(log *slog.Logger) {
	if t.gcPercent != 0 {
		debug.SetGCPercent(t.gcPercent)
		log.Info("garbage collector target set", "gc_percent", t.gcPercent)
	}
}

// withCertReload adds the certificates' reload to what SIGHUP does. A
// certificate or key that does not load is refused and the one in force
// kept, with a log line saying why.
func withCertReload(reload func(), certs *tlsconf.Server, log *slog.Logger) func() {
	if certs == nil {
		return reload
	}
	return func() {
		if reload != nil {
			reload()
		}
		if err := certs.Reload(); err != nil {
			log.Error("TLS reload refused; the certificate in force is kept", "err", err)
			return
		}
		logCert(log, "TLS certificate reloaded", certs)
	}
}

func logCert(log *slog.Logger, msg string, certs *tlsconf.Server, args ...any) {
	leaf := certs.Leaf()
	log.Info(msg, append([]any{"subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}, args...)...)
}
