package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// haproxyConfig is HAProxy in front of the relay at relay: a TCP frontend
// sending PROXY v2, one sending PROXY v1 (both from 127.0.0.2), and an HTTP
// frontend adding X-Forwarded-For (from 127.0.0.3).
const haproxyConfig = `global
    maxconn 256

defaults
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h

frontend tcp_v2
    mode tcp
    bind 127.0.0.1:%[1]d
    default_backend relay_v2

backend relay_v2
    mode tcp
    server relay %[4]s send-proxy-v2 source 127.0.0.2

frontend tcp_v1
    mode tcp
    bind 127.0.0.1:%[2]d
    default_backend relay_v1

backend relay_v1
    mode tcp
    server relay %[4]s send-proxy source 127.0.0.2

frontend http
    mode http
    bind 127.0.0.1:%[3]d
    option forwardfor
    default_backend relay_http

backend relay_http
    mode http
    server relay %[4]s source 127.0.0.3
`

// startHAProxy writes the configuration for a relay at relay and starts
// HAProxy in the foreground; it returns the three frontends' addresses.
func startHAProxy(t *testing.T, relay string) (v2, v1, http string) {
	t.Helper()
	bin := need(t, "haproxy")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, haproxyConfig, p1, p2, p3, relay), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &testutil.Buffer{}
	startProc(t, out, bin, "-db", "-f", cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("haproxy:\n%s", out.String())
		}
	})
	v2, v1, http = fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2), fmt.Sprintf("127.0.0.1:%d", p3)
	for _, a := range []string{v2, v1, http} {
		waitPort(t, a)
	}
	return v2, v1, http
}

// upgradeFrom sends a WebSocket upgrade for token to addr from the local
// address from (a loopback address: the whole of 127/8 is this host's) and
// returns the status; the connection stays open until the test ends.
func upgradeFrom(t *testing.T, from, addr, token string) int {
	t.Helper()
	status, _, _ := upgradeDial(t, &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}, addr, token)
	return status
}

// TestHAProxy: behind a real HAProxy (PROXY v2, PROXY v1, and HTTP with
// X-Forwarded-For), the relay logs each console with the client's own
// address, and the per-client limit counts each client apart, not HAProxy.
func TestHAProxy(t *testing.T) {
	relay, _, logs := startRelayLogged(t, nil,
		"--proxy-protocol", "127.0.0.2", "--trusted-proxy", "127.0.0.3",
		"--max-consoles-per-client", "2",
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	v2, v1, http := startHAProxy(t, relay)

	tests := []struct {
		name, via, client string
		logged            string // the client as the relay's log shows it
	}{
		{"PROXY v2", v2, "127.0.0.11", "client=127.0.0.11:"},
		{"PROXY v1", v1, "127.0.0.12", "client=127.0.0.12:"},
		{"X-Forwarded-For", http, "127.0.0.13", "client=127.0.0.13 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 2 {
				if st := upgradeFrom(t, tt.client, tt.via, canary); st != 101 {
					t.Fatalf("console %d from %s: %d", i+1, tt.client, st)
				}
			}
			waitLog(t, logs, "console open", tt.logged)
			// The third from the same client is over its limit; another
			// client through the same HAProxy is not.
			if st := upgradeFrom(t, tt.client, tt.via, canary); st != 429 {
				t.Fatalf("third console from %s: %d, want 429", tt.client, st)
			}
			waitLog(t, logs, "status=429", tt.logged)
			other := strings.Replace(tt.client, "127.0.0.1", "127.0.0.2", 1)
			if st := upgradeFrom(t, other, tt.via, canary); st != 101 {
				t.Fatalf("console from %s: %d", other, st)
			}
		})
	}
	// A direct connection from a PROXY source without the header is refused.
	if st := upgradeFrom(t, "127.0.0.2", relay, canary); st != 400 {
		t.Fatalf("no PROXY header from a PROXY source: %d", st)
	}
}

// waitLog waits until a line of the log holds all of parts.
func waitLog(t *testing.T, logs *testutil.Buffer, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q", parts)
}
