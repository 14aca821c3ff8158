package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// MinVersion parses websockify's --ssl-version (and Nova's
// [console] ssl_minimum_version): "default" or "" (TLS 1.2), "tlsv1_1",
// "tlsv1_2", "tlsv1_3". websockify's "default" is whatever the system's
// OpenSSL allows; vncrelay refuses TLS below 1.2 unless tlsv1_1 is asked
// for. TLS 1.0 and SSL 3 are never offered.
func MinVersion(s string) (uint16, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default", "tlsv1_2":
		return tls.VersionTLS12, nil
	case "tlsv1_1":
		return tls.VersionTLS11, nil
	case "tlsv1_3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS version %q: want default, tlsv1_1, tlsv1_2 or tlsv1_3", s)
}

// opensslNames maps OpenSSL's cipher names to Go's suites, for the suites Go
// offers and does not list as insecure (tls.CipherSuites).
var opensslNames = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
}

// tls13Names are OpenSSL's (and IANA's) names of the TLS 1.3 suites, which
// Go always enables and does not let a configuration choose.
var tls13Names = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// Ciphers parses websockify's --ssl-ciphers (and Nova's [console]
// ssl_ciphers): cipher names separated by ':', ',' or spaces, in OpenSSL's
// spelling (ECDHE-RSA-AES128-GCM-SHA256) or IANA's as Go names them
// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). It returns the suites for TLS
// 1.2 and below, in the order given; TLS 1.3 suite names are accepted and
// change nothing (Go enables all three). OpenSSL's keywords and operators
// (HIGH, !aNULL, @STRENGTH) and the names of suites Go does not offer or
// holds insecure are refused, all named in the error. An empty string
// returns nil: Go's default suites.
func Ciphers(s string) ([]uint16, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	var out []uint16
	var unknown []string
	only13 := len(fields) > 0
	for _, f := range fields {
		if slices.Contains(tls13Names, f) {
			continue
		}
		only13 = false
		id, ok := opensslNames[f]
		if !ok {
			id, ok = goSuite(f)
		}
		if !ok {
			unknown = append(unknown, f)
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("cipher names not supported: %s (give OpenSSL names of suites Go offers, such as ECDHE-RSA-AES128-GCM-SHA256; keywords like HIGH are not read)",
			strings.Join(unknown, ", "))
	}
	if only13 {
		return nil, fmt.Errorf("only TLS 1.3 suites named: give TLS 1.2 suites too, or --ssl-version tlsv1_3")
	}
	return out, nil
}

// goSuite finds a suite by Go's name among the suites it does not hold
// insecure.
func goSuite(name string) (uint16, bool) {
	for _, cs := range tls.CipherSuites() {
		if cs.Name == name {
			return cs.ID, true
		}
	}
	return 0, false
}
