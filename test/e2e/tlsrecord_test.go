package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTLSRecordLayerOpenSSL: OpenSSL's client, with each TLS 1.3 suite,
// sends a request and reads the relay's answer to the end: with the
// AES-GCM suites both directions go through the relay's own record layer
// (engine/tlsrecord.go), with ChaCha20-Poly1305 through crypto/tls; the
// answer ends with the relay's close_notify, which OpenSSL takes as a
// clean end.
func TestTLSRecordLayerOpenSSL(t *testing.T) {
	openssl := need(t, "openssl")
	ts := newTLSSetup(t)
	addr := startRelay(t, "--cert", ts.cert, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(suite, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-servername", "localhost",
				"-CAfile", ts.caFile, "-verify_return_error", "-tls1_3", "-ciphersuites", suite, "-ign_eof")
			cmd.Stdin = strings.NewReader("GET /websockify?token=none HTTP/1.1\r\nHost: localhost\r\n\r\n")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			s := out.String()
			// OpenSSL 3 reports a stream cut without close_notify as
			// "unexpected eof while reading".
			if err != nil || !strings.Contains(s, "Cipher is "+suite) || !strings.Contains(s, "HTTP/1.1 ") ||
				strings.Contains(s, "unexpected eof") {
				t.Fatalf("openssl with %s: %v\n%s", suite, err, s)
			}
		})
	}
}
