// Package tlsconf turns websockify's TLS options into crypto/tls
// configurations: certificate and key files (a combined PEM, encrypted
// keys), the minimum version and cipher names as websockify (and Nova)
// spell them, client certificates, and the client side for TLS to consoles.
//
// Server keeps its configuration behind an atomic pointer, so Reload (on
// SIGHUP) gives new handshakes new certificates while connections already
// up keep theirs; a configuration that does not load is refused and the one
// in force kept.
//
// It reads files and parses options only; the TLS layer itself is the
// engine's (engine.Config.TLS, engine.Config.TargetTLS). It imports nothing
// from this repository.
package tlsconf
