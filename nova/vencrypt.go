package nova

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/vncrelay/vncrelay/auth"
)

// ConsoleSecurity returns how the proxy treats its consoles' own security,
// from [vnc] auth_schemes and the vencrypt_* options: for nova-novncproxy
// the RFB security proxy mode, in the order auth_schemes lists the schemes,
// and with vencrypt the TLS client configuration VeNCrypt X509None uses
// (VeNCryptTLS); for the other proxies SecurityProxyOff and nil. Errors name
// the option; Load has already refused impossible combinations.
func (c *Config) ConsoleSecurity() (auth.SecurityProxy, *tls.Config, error) {
	if c.Proxy != ProxyNoVNC {
		return auth.SecurityProxyOff, nil, nil
	}
	mode, err := securityMode(c.VNC.AuthSchemes)
	if err != nil || !mode.UsesVeNCrypt() {
		return mode, nil, err
	}
	cfg, err := VeNCryptTLS(c.VNC)
	if err != nil {
		return 0, nil, err
	}
	return mode, cfg, nil
}

// securityMode maps auth_schemes to a mode. Like Nova's RFBAuthSchemeList, a
// scheme named twice counts once, at its first place.
func securityMode(schemes []string) (auth.SecurityProxy, error) {
	var order []string
	for _, s := range schemes {
		if s != "none" && s != "vencrypt" {
			return 0, fmt.Errorf("[vnc] auth_schemes: %q is not one of none, vencrypt", s)
		}
		if !slices.Contains(order, s) {
			order = append(order, s)
		}
	}
	switch {
	case len(order) == 0:
		return 0, errors.New("[vnc] auth_schemes: no scheme given (want none, vencrypt or both)")
	case len(order) == 2 && order[0] == "vencrypt":
		return auth.SecurityProxyRFBVeNCryptOrNone, nil
	case len(order) == 2:
		return auth.SecurityProxyRFBNoneOrVeNCrypt, nil
	case order[0] == "vencrypt":
		return auth.SecurityProxyRFBVeNCrypt, nil
	}
	return auth.SecurityProxyRFBNone, nil
}

// VeNCryptTLS builds the TLS client configuration of VeNCrypt X509None
// towards compute hosts from [vnc] vencrypt_ca_certs, vencrypt_client_cert
// and vencrypt_client_key, reading the files now:
//
//   - The console's certificate chain must verify against the certificates
//     in vencrypt_ca_certs (a PEM file of one or more), and be fit for TLS
//     servers (extended key usage serverAuth, when the certificate lists
//     usages), as Nova's ssl.wrap_socket(cert_reqs=CERT_REQUIRED,
//     ca_certs=...) requires. As in Nova, the host name is not checked:
//     tokens name the compute host by [vnc] server_proxyclient_address,
//     usually an IP address, while the certificates that libvirt and QEMU
//     use for VNC name the host; checking the name would refuse consoles
//     that Nova opens.
//   - vencrypt_client_cert and vencrypt_client_key are the relay's client
//     certificate, which QEMU's verify-peer=yes requires. Nova uses them only
//     when both are set and silently sends none otherwise; vncrelay refuses
//     one without the other at start.
//   - TLS 1.2 or later (Go's default, and what GnuTLS in QEMU offers).
//
// vencrypt_ca_certs is required: without it Nova fails every VeNCrypt
// console (it verifies against an empty CA list), so vncrelay refuses to
// start instead. Certificates are read once; a restart takes new ones.
func VeNCryptTLS(o VNCOptions) (*tls.Config, error) {
	if o.VeNCryptCACerts == "" {
		return nil, errors.New("[vnc] vencrypt_ca_certs: required with auth_schemes = vencrypt " +
			"(the compute hosts' certificates are verified against it; Nova fails every console without it)")
	}
	pemCA, err := os.ReadFile(o.VeNCryptCACerts)
	if err != nil {
		return nil, fmt.Errorf("[vnc] vencrypt_ca_certs: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCA) {
		return nil, fmt.Errorf("[vnc] vencrypt_ca_certs: %s holds no PEM certificate", o.VeNCryptCACerts)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Not insecure: VerifyConnection verifies the chain, without a
		// host name (see above).
		InsecureSkipVerify: true,
		VerifyConnection:   verifyChain(roots),
	}
	switch cert, key := o.VeNCryptClientCert, o.VeNCryptClientKey; {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("[vnc] vencrypt_client_cert, vencrypt_client_key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case cert != "":
		return nil, errors.New("[vnc] vencrypt_client_cert is set without vencrypt_client_key")
	case key != "":
		return nil, errors.New("[vnc] vencrypt_client_key is set without vencrypt_client_cert")
	}
	return cfg, nil
}

// verifyChain checks the console's certificate chain against roots, for
// TLS server use, without a host name. Its error is a
// *tls.CertificateVerificationError, as crypto/tls's own verification
// returns, so that callers classify both alike.
func verifyChain(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("vencrypt: the console sent no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
}
