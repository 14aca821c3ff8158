package engine

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// TestCloseCodes: each violation gets its close code, and the console is
// closed with the session.
func TestCloseCodes(t *testing.T) {
	unmasked := func() []byte { // a binary frame without the MASK bit
		return []byte{0x82, 0x03, 'a', 'b', 'c'}
	}
	withRSV1 := func() []byte {
		f := frame(true, wsframe.OpBinary, []byte("x"))
		f[0] |= 0x40
		return f
	}
	tests := []struct {
		name string
		send func() []byte
		code wsframe.CloseCode
	}{
		{"text frame", func() []byte { return frame(true, wsframe.OpText, []byte("hi")) }, wsframe.CloseUnsupportedData},
		{"unmasked frame", unmasked, wsframe.CloseProtocolError},
		{"RSV1 without extension", withRSV1, wsframe.CloseProtocolError},
		{"reserved opcode 3", func() []byte { return frame(true, 3, nil) }, wsframe.CloseProtocolError},
		{"reserved control opcode 0xB", func() []byte { return frame(true, 0xb, nil) }, wsframe.CloseProtocolError},
		{"continuation first", func() []byte { return frame(true, wsframe.OpContinuation, []byte("x")) }, wsframe.CloseProtocolError},
		{"binary inside a message", func() []byte {
			return append(frame(false, wsframe.OpBinary, []byte("a")), frame(true, wsframe.OpBinary, []byte("b"))...)
		}, wsframe.CloseProtocolError},
		{"fragmented ping", func() []byte { return frame(false, wsframe.OpPing, nil) }, wsframe.CloseProtocolError},
		{"ping over 125 bytes", func() []byte { return frame(true, wsframe.OpPing, make([]byte, 126)) }, wsframe.CloseProtocolError},
		{"frame over the size limit", func() []byte { return frame(true, wsframe.OpBinary, make([]byte, 70000)) }, wsframe.CloseMessageTooBig},
		{"message over the size limit in fragments", func() []byte {
			return append(frame(false, wsframe.OpBinary, make([]byte, 40000)), frame(true, wsframe.OpContinuation, make([]byte, 40000))...)
		}, wsframe.CloseMessageTooBig},
		{"empty continuation flood", func() []byte {
			// Issue 7: one open message, then far more empty continuations
			// than MaxFragments (set to 1024 below).
			flood := frame(false, wsframe.OpBinary, []byte("x"))
			for range 5000 {
				flood = append(flood, frame(false, wsframe.OpContinuation, nil)...)
			}
			return flood
		}, wsframe.CloseMessageTooBig},
		{"close with 1-byte payload", func() []byte { return frame(true, wsframe.OpClose, []byte{3}) }, wsframe.CloseProtocolError},
		{"close code 999", func() []byte { return frame(true, wsframe.OpClose, []byte{0x03, 0xe7}) }, wsframe.CloseProtocolError},
		{"close code 1005", func() []byte { return frame(true, wsframe.OpClose, []byte{0x03, 0xed}) }, wsframe.CloseProtocolError},
		{"close reason not UTF-8", func() []byte { return frame(true, wsframe.OpClose, []byte{0x03, 0xe8, 0xff}) }, wsframe.CloseInvalidPayload},
		{"close 1000 is echoed", func() []byte {
			return frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "bye"))
		}, wsframe.CloseNormal},
		{"close 4000 is echoed", func() []byte {
			return frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, 4000, ""))
		}, 4000},
		{"empty close is echoed empty", func() []byte { return frame(true, wsframe.OpClose, nil) }, wsframe.CloseNoStatus},
	}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.MaxMessageSize = 65536; c.MaxFragments = 1024 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.console.Accepted()
			w := e.dial()
			w.rfbHandshake()
			w.write(tt.send())
			w.expectClose(tt.code)
			w.expectEOF()
			if e.console.Accepted() != before+1 {
				t.Fatalf("console accepted %d, want %d", e.console.Accepted(), before+1)
			}
			waitFor(t, "console closed", func() bool { return e.srv.Stats().Consoles == 0 })
		})
	}
}

// TestHTTPRefusals: every refusal before the upgrade is an HTTP status with
// a reason, and none of them dials the console.
func TestHTTPRefusals(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	tests := []struct {
		name   string
		req    string
		status int
		header string
	}{
		{"unknown token", upgradeRequest("/websockify?token=nope"), http.StatusForbidden, ""},
		{"missing token", upgradeRequest("/websockify"), http.StatusForbidden, ""},
		{"two tokens", upgradeRequest("/?token=" + canary + "&token=" + canary), http.StatusBadRequest, ""},
		{"malformed", "GET /\r\n\r\n", http.StatusBadRequest, ""},
		{"POST upgrade", strings.Replace(upgradeRequest("/?token="+canary), "GET", "POST", 1), http.StatusMethodNotAllowed, "Allow: GET"},
		{"version 12", strings.Replace(upgradeRequest("/?token="+canary), "Version: 13", "Version: 12", 1), http.StatusUpgradeRequired, "Sec-WebSocket-Version: 13"},
		{"missing key", strings.Replace(upgradeRequest("/?token="+canary), "Sec-WebSocket-Key", "X-Key", 1), http.StatusBadRequest, ""},
		{"headers too large", upgradeRequest("/?token="+canary, "X-Big: "+strings.Repeat("a", 9000)), http.StatusRequestHeaderFieldsTooLarge, ""},
		{"too many headers", upgradeRequest("/?token="+canary, strings.Repeat("X-A: b\r\n", 100)+"X-A: b"), http.StatusRequestHeaderFieldsTooLarge, ""},
		{"only base64 offered", upgradeRequest("/?token="+canary, "Sec-WebSocket-Protocol: base64"), http.StatusBadRequest, ""},
		{"plain GET without --web", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusMethodNotAllowed, ""},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", http.StatusBadRequest, ""},
		{"TLS ClientHello on a port without TLS", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", http.StatusBadRequest, ""},
	}
	var forbiddenReason string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.dialRaw(tt.req)
			if w.status != tt.status {
				t.Fatalf("status %d %q, want %d", w.status, w.header, tt.status)
			}
			if tt.header != "" && !strings.Contains(w.header, tt.header+"\r\n") {
				t.Fatalf("no %q in %q", tt.header, w.header)
			}
			reason := headerValue(w.header, ReasonHeader)
			// Only a well-formed request without an Upgrade header is known
			// to be plain HTTP; the rest may be an upgrade.
			plain := !strings.Contains(tt.req, "Upgrade: websocket") && strings.Contains(tt.req, " HTTP/1.1\r\n")
			switch {
			case strings.Contains(w.header+w.body, canary):
				t.Fatalf("token in the answer: %q %q", w.header, w.body)
			case plain && w.body == "":
				t.Fatalf("plain request refused without a reason in the body: %q", w.header)
			case !plain && (w.body != "" || !strings.Contains(w.header, "Content-Length: 0\r\n")):
				// Issue 7: a socket client (tempest) would read a body as frames.
				t.Fatalf("refused upgrade has bytes after its head: %q", w.body)
			case reason == "":
				t.Fatalf("no %s header in %q", ReasonHeader, w.header)
			}
			if tt.status == http.StatusForbidden {
				if forbiddenReason != "" && reason != forbiddenReason {
					t.Fatalf("403 reasons differ: %q vs %q", reason, forbiddenReason)
				}
				forbiddenReason = reason
			}
		})
	}
	if n := e.console.Accepted(); n != 0 {
		t.Fatalf("refused requests dialed the console %d times", n)
	}
	if st := e.srv.Stats(); st.Dials != 0 {
		t.Fatalf("dials %d", st.Dials)
	}
}

// TestHandshakeTimeout: a connection that sends nothing, or a head that
// trickles too slowly, gets 408 at the deadline.
func TestHandshakeTimeout(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	start := time.Now()
	w := e.dialRaw("GET /websockify?token=" + canary + " HTTP/1.1\r\n")
	if w.status != http.StatusRequestTimeout {
		t.Fatalf("status %d", w.status)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("refused after %v, before the deadline", d)
	}
	waitFor(t, "pending back to 0", func() bool { return e.srv.Stats().Pending == 0 })
}

// TestConsoleUnreachable: refused → 502, no answer → 504, both before the 101.
func TestConsoleUnreachable(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		addr := closedPort(t)
		e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(addr) })
		w := e.dialRaw(upgradeRequest("/?token=" + canary))
		if w.status != http.StatusBadGateway {
			t.Fatalf("status %d %q", w.status, w.body)
		}
		if !strings.Contains(e.logs.String(), "console unreachable") {
			t.Fatalf("no log line for the failed dial")
		}
	})
	t.Run("blackholed", func(t *testing.T) {
		addr := blackhole(t)
		e := newEnv(t, rfb.ModeEcho, func(c *Config) {
			c.Resolver = staticTarget(addr)
			c.ConnectTimeout = 400 * time.Millisecond
		})
		w := e.dialRaw(upgradeRequest("/?token=" + canary))
		if w.status != http.StatusGatewayTimeout {
			t.Fatalf("status %d %q", w.status, w.body)
		}
	})
}

// TestConsoleResetMidStream: a console that resets closes the browser with 1011.
func TestConsoleResetMidStream(t *testing.T) {
	addr := resettingConsole(t)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(addr) })
	w := e.dial()
	if got := w.readData(5); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	w.expectClose(wsframe.CloseInternalError)
}

// TestOriginPolicy: with a policy, a foreign Origin gets 403 and no dial; the
// page's own host and allowed hosts pass.
func TestOriginRefused(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Origins = &auth.OriginPolicy{Allowed: []string{"novnc.example"}} })
	if w := e.dialRaw(upgradeRequest("/?token="+canary, "Origin: https://evil.example")); w.status != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", w.status)
	}
	if e.console.Accepted() != 0 {
		t.Fatal("a refused origin dialed the console")
	}
	for _, o := range []string{"http://127.0.0.1", "https://novnc.example:8443"} {
		if w := e.dialRaw(upgradeRequest("/?token="+canary, "Origin: "+o)); w.status != 101 {
			t.Fatalf("origin %s: %d", o, w.status)
		}
	}
}
