package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
)

// ServerOptions are websockify's TLS options for the listening side.
type ServerOptions struct {
	CertFile    string // --cert: PEM certificates, leaf first; the key too when KeyFile is ""
	KeyFile     string // --key: the PEM private key; "" means it is in CertFile
	KeyPassword string // --key-password: opens an encrypted key; "" for none
	MinVersion  string // --ssl-version: see MinVersion; "" means TLS 1.2
	Ciphers     string // --ssl-ciphers: see Ciphers; "" means Go's defaults
	// VerifyClient requires a client certificate issued by a CA of CAFile,
	// or of the system's CAs when CAFile is "" (--verify-client, --cafile).
	// Without VerifyClient, CAFile is not read (as in websockify).
	VerifyClient bool
	CAFile       string
}

// Server is a server TLS configuration that can be reloaded. Config gives
// the *tls.Config to serve with; each handshake takes the configuration in
// force when it starts.
type Server struct {
	opts ServerOptions
	base *tls.Config
	cur  atomic.Pointer[tls.Config]
}

// NewServer checks the options and loads the files. Errors name the option
// or file at fault.
func NewServer(o ServerOptions) (*Server, error) {
	if o.CertFile == "" {
		return nil, fmt.Errorf("TLS needs a certificate (--cert)")
	}
	s := &Server{opts: o}
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(cfg)
	s.base = &tls.Config{
		MinVersion: cfg.MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cur.Load(), nil
		},
	}
	return s, nil
}

// Config returns the configuration to serve with (engine.Config.TLS). It
// hands each handshake the configuration in force (GetConfigForClient).
func (s *Server) Config() *tls.Config { return s.base }

// Leaf returns the certificate in force, for log lines.
func (s *Server) Leaf() *x509.Certificate { return s.cur.Load().Certificates[0].Leaf }

// Reload reads the certificate, key and CA files again. On success new
// handshakes use them; connections already up are not touched. On error the
// configuration in force is kept and the error says why.
func (s *Server) Reload() error {
	cfg, err := s.load()
	if err != nil {
		return err
	}
	s.cur.Store(cfg)
	return nil
}

// load builds a complete configuration from the options.
func (s *Server) load() (*tls.Config, error) {
	o := &s.opts
	minV, err := MinVersion(o.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("--ssl-version: %w", err)
	}
	suites, err := Ciphers(o.Ciphers)
	if err != nil {
		return nil, fmt.Errorf("--ssl-ciphers: %w", err)
	}
	cert, err := LoadKeyPair(o.CertFile, o.KeyFile, o.KeyPassword)
	if err != nil {
		return nil, fmt.Errorf("--cert/--key: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   minV,
		CipherSuites: suites,
	}
	if o.VerifyClient {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if o.CAFile != "" {
			if cfg.ClientCAs, err = LoadCAs(o.CAFile); err != nil {
				return nil, fmt.Errorf("--cafile: %w", err)
			}
		}
	}
	return cfg, nil
}

// ClientConfig is the configuration for TLS to consoles (--ssl-target):
// certificates checked against caFile's CAs, or the system's when caFile is
// ""; the server name is left empty for the engine to fill in per console.
func ClientConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := LoadCAs(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
