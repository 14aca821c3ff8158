package engine

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// scriptedConsole writes say on each connection it accepts and keeps the
// connection open until the peer closes it (or closes at once, with
// closeAfter).
func scriptedConsole(t *testing.T, say string, closeAfter bool) string {
	t.Helper()
	return testutil.ServeLoopback(t, func(c net.Conn) {
		_, _ = io.WriteString(c, say)
		if !closeAfter {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.Copy(io.Discard, c)
		}
	})
}

// TestConsoleSetup: the work with the console before the 101 (Nova's
// internal_access_path tunnel and RFB security proxy) leads to a working
// console, or to an HTTP refusal that says what failed, with no 101 sent.
func TestConsoleSetup(t *testing.T) {
	console := &rfb.Server{Mode: rfb.ModeEcho}
	if err := console.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = console.Close() })
	ok200 := "HTTP/1.1 200 OK\r\n\r\n"
	tests := []struct {
		name   string
		target func(t *testing.T) auth.Target
		status int // 101: a console that echoes
	}{
		{"security proxy", func(*testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: console.Addr(), SecurityProxy: auth.SecurityProxyRFBNone}
		}, 101},
		{"tunnel, console bytes in the answer's segment", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: testutil.ConnectFront(t, "/vm/1", ok200, console.Addr()), TunnelPath: "/vm/1"}
		}, 101},
		{"tunnel, then security proxy", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: testutil.ConnectFront(t, "/vm/2?x=1", "HTTP/1.0 200 Connection established\r\nX-A: b\r\n\r\n", console.Addr()),
				TunnelPath: "/vm/2?x=1", SecurityProxy: auth.SecurityProxyRFBNone}
		}, 101},
		{"tunnel refused", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: testutil.ConnectFront(t, "/vm/3", "HTTP/1.1 403 Forbidden\r\n\r\n", ""), TunnelPath: "/vm/3"}
		}, http.StatusBadGateway},
		{"tunnel answers 2000", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "HTTP/1.1 2000 OK\r\n\r\n", false), TunnelPath: "/p"}
		}, http.StatusBadGateway},
		{"tunnel path with a space", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: console.Addr(), TunnelPath: "/a b"}
		}, http.StatusBadGateway},
		{"tunnel never answers", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "", false), TunnelPath: "/p"}
		}, http.StatusGatewayTimeout},
		{"tunnel answer head too long", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", 9000), false), TunnelPath: "/p"}
		}, http.StatusBadGateway},
		{"console speaks RFB 3.3", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "RFB 003.003\n", false), SecurityProxy: auth.SecurityProxyRFBNone}
		}, http.StatusBadGateway},
		{"console offers only VNC auth", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "RFB 003.008\n\x01\x02", false), SecurityProxy: auth.SecurityProxyRFBNone}
		}, http.StatusBadGateway},
		{"console refuses with a reason", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "RFB 003.008\n\x00\x00\x00\x00\x05busy!", false), SecurityProxy: auth.SecurityProxyRFBNone}
		}, http.StatusBadGateway},
		{"console fails SecurityResult", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "RFB 003.008\n\x01\x01\x00\x00\x00\x01\x00\x00\x00\x02no", false), SecurityProxy: auth.SecurityProxyRFBNone}
		}, http.StatusBadGateway},
		{"console closes mid-handshake", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "RFB 003.008\n", true), SecurityProxy: auth.SecurityProxyRFBNone}
		}, http.StatusBadGateway},
		{"console silent", func(t *testing.T) auth.Target {
			return auth.Target{Network: "tcp", Address: scriptedConsole(t, "", false), SecurityProxy: auth.SecurityProxyRFBNone}
		}, http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target(t)
			e := newEnv(t, rfb.ModeEcho, func(c *Config) {
				c.Resolver = auth.Static{Target: target}
				c.ConnectTimeout = time.Second
			})
			w := e.dialRaw(upgradeRequest("/websockify?token=" + canary))
			if w.status != tt.status {
				t.Fatalf("status %d, want %d: %q %q", w.status, tt.status, w.header, w.body)
			}
			if tt.status != 101 {
				if w.body != "" || headerValue(w.header, ReasonHeader) == "" {
					t.Fatalf("refusal %q %q", w.header, w.body)
				}
				waitFor(t, "pending back to 0", func() bool { return e.srv.Stats().Pending == 0 })
				return
			}
			w.rfbHandshake()
			w.send([]byte("through the console"))
			if got := w.readData(len("through the console")); string(got) != "through the console" {
				t.Fatalf("echo %q", got)
			}
			w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
			w.expectClose(wsframe.CloseNormal)
		})
	}
}

// TestSecurityProxyFrames: with the RFB security proxy, each message of the
// browser-side handshake is its own binary frame (tempest's client reads one
// frame per message), the first riding right behind the 101.
func TestSecurityProxyFrames(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	target := auth.Target{Network: "tcp", Address: e.console.Addr(), SecurityProxy: auth.SecurityProxyRFBNone}
	e2 := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = auth.Static{Target: target} })
	w := e2.dial()
	next := w.nextBinary
	next("RFB 003.008\n")
	w.send([]byte("RFB 003.008\n"))
	next("\x01\x01")
	// The choice and ClientInit in one frame: ClientInit goes to the console.
	w.send([]byte{1, 1})
	next("\x00\x00\x00\x00")
	op, p, err := w.readFrame(5 * time.Second)
	if err != nil || op != wsframe.OpBinary || len(p) < 24 {
		t.Fatalf("ServerInit: %s %q %v", op, p, err)
	}
}

// TestSecurityProxyBrowserRefused: a browser that chooses a type other than
// None gets RFB's failed SecurityResult with a reason, then close 1008.
func TestSecurityProxyBrowserRefused(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	target := auth.Target{Network: "tcp", Address: e.console.Addr(), SecurityProxy: auth.SecurityProxyRFBNone}
	e2 := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = auth.Static{Target: target} })
	w := e2.dial()
	if _, p, _ := w.readFrame(5 * time.Second); string(p) != "RFB 003.008\n" {
		t.Fatalf("version %q", p)
	}
	w.send([]byte("RFB 003.008\n"))
	if _, p, _ := w.readFrame(5 * time.Second); !bytes.Equal(p, []byte{1, 1}) {
		t.Fatalf("types %q", p)
	}
	w.send([]byte{2}) // VNC authentication
	op, p, err := w.readFrame(5 * time.Second)
	if err != nil || op != wsframe.OpBinary || len(p) < 8 || !bytes.Equal(p[:4], []byte{0, 0, 0, 1}) {
		t.Fatalf("failed SecurityResult: %s %q %v", op, p, err)
	}
	w.expectClose(wsframe.ClosePolicyViolation)
}

// TestOriginScheme: with an Origin policy, a console whose URL was issued for
// https opens only from an https page (or one a proxy says was https), as
// Nova's verify_origin_proto; a client without Origin is not a browser and
// passes.
func TestOriginScheme(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	target := auth.Target{Network: "tcp", Address: e.console.Addr(), AccessScheme: "https"}
	e2 := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = auth.Static{Target: target}
		c.Origins = &auth.OriginPolicy{}
	})
	tests := []struct {
		name   string
		extra  []string
		status int
	}{
		{"https page", []string{"Origin: https://127.0.0.1"}, 101},
		{"http page", []string{"Origin: http://127.0.0.1"}, http.StatusForbidden},
		{"http page behind a TLS proxy", []string{"Origin: http://127.0.0.1", "X-Forwarded-Proto: https"}, 101},
		{"https page, proxy says http", []string{"Origin: https://127.0.0.1", "X-Forwarded-Proto: http"}, http.StatusForbidden},
		{"wss scheme counts as https", []string{"Origin: https://127.0.0.1", "X-Forwarded-Proto: wss"}, 101},
		{"no Origin", nil, 101},
		{"other host", []string{"Origin: https://evil.example"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e2.dialRaw(upgradeRequest("/?token="+canary, tt.extra...))
			if w.status != tt.status {
				t.Fatalf("status %d, want %d (%q)", w.status, tt.status, w.header)
			}
		})
	}
}

// TestTokenExpiry: with EnforceTokenExpiry a live console is closed with 1008
// when its token expires (Nova's enforce_session_timeout); without it the
// console lives on.
func TestTokenExpiry(t *testing.T) {
	for _, enforce := range []bool{true, false} {
		t.Run(map[bool]string{true: "enforced", false: "not enforced"}[enforce], func(t *testing.T) {
			e := newEnv(t, rfb.ModeEcho, nil)
			target := auth.Target{Network: "tcp", Address: e.console.Addr(), Expires: time.Now().Add(700 * time.Millisecond)}
			e2 := newEnv(t, rfb.ModeEcho, func(c *Config) {
				c.Resolver = auth.Static{Target: target}
				c.EnforceTokenExpiry = enforce
			})
			w := e2.dial()
			w.rfbHandshake()
			if enforce {
				if reason := w.expectClose(wsframe.ClosePolicyViolation); reason != "console token expired" {
					t.Fatalf("reason %q", reason)
				}
				return
			}
			time.Sleep(1500 * time.Millisecond)
			w.send([]byte("still here"))
			if got := w.readData(10); string(got) != "still here" {
				t.Fatalf("echo %q", got)
			}
		})
	}
}

// TestTunnelAnswer: the CONNECT answer parser, as annotated heads.
func TestTunnelAnswer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		end  int // 0: incomplete; -1: refused
	}{
		{"200", "HTTP/1.1 200 OK\r\n\r\n", 19},
		{"200, console bytes behind", "HTTP/1.1 200 OK\r\n\r\nRFB 003.008\n", 19},
		{"HTTP/1.0, headers", "HTTP/1.0 200 Connection established\r\nProxy-Agent: x\r\n\r\n", 55},
		{"200 without a reason phrase", "HTTP/1.1 200\r\n\r\n", 16},
		{"incomplete", "HTTP/1.1 200 OK\r\n", 0},
		{"403", "HTTP/1.1 403 Forbidden\r\n\r\n", -1},
		{"2000", "HTTP/1.1 2000 OK\r\n\r\n", -1},
		{"not HTTP", "RFB 003.008\n\r\n\r\n", -1},
		{"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", -1},
		{"head over the bound", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxTunnelResponse), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, err := tunnelAnswer([]byte(tt.in))
			if tt.end < 0 {
				if err == nil {
					t.Fatalf("accepted, end %d", end)
				}
				return
			}
			if err != nil || end != tt.end {
				t.Fatalf("end %d err %v, want %d", end, err, tt.end)
			}
		})
	}
}

func FuzzTunnelAnswer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\nRFB 003.008\n"))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := tunnelAnswer(b)
		if err == nil && (end < 0 || end > len(b) || end > maxTunnelResponse) {
			t.Fatalf("end %d of %d", end, len(b))
		}
		if err == nil && end > 0 && !bytes.HasSuffix(b[:end], []byte("\r\n\r\n")) {
			t.Fatalf("head %q does not end with a blank line", b[:end])
		}
	})
}

// TestFixedTargetNeedsNoToken: websockify's fixed-target mode (auth.Static)
// opens a console for any path, with or without a token, as noVNC's default
// path "websockify" carries none.
func TestFixedTargetNeedsNoToken(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	e2 := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = auth.Static{Target: auth.Target{Network: "tcp", Address: e.console.Addr()}}
	})
	for _, path := range []string{"/websockify", "/", "/websockify?foo=bar", "/?token=anything"} {
		w := e2.dialRaw(upgradeRequest(path))
		if w.status != 101 {
			t.Fatalf("%s: status %d %q", path, w.status, w.header)
		}
		w.rfbHandshake()
		_ = w.c.Close()
	}
}

// TestTokenInSocketPath: with UnixDomainSocketDirectory the socket's name is
// the token; neither the open nor a failed dial may put it in the log (the
// env's cleanup fails the test on the canary in the log).
func TestTokenInSocketPath(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "vr-sock-") // short: unix socket paths are bounded
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, canary))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	sockets, err := auth.NewSocketDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = sockets })
	w := e.dial()
	_ = w.c.Close()
	waitFor(t, "console logged", func() bool { return strings.Contains(e.logs.String(), "console open") })
	// The listener goes; its socket file stays: the dial is refused.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	if w := e.dialRaw(upgradeRequest("/websockify?token=" + canary)); w.status != http.StatusBadGateway {
		t.Fatalf("stale socket: status %d", w.status)
	}
	waitFor(t, "dial failure logged", func() bool { return strings.Contains(e.logs.String(), "console unreachable") })
}
