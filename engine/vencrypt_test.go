//go:build linux

package engine

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	benchrfb "github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// qemuVNCSocket starts a halted QEMU whose VNC server listens on a unix
// socket, with VeNCrypt x509 credentials from ca (verify-peer=yes) when ca is
// not nil, and returns the socket's path once it accepts.
func qemuVNCSocket(t testing.TB, ca *testutil.TestCA) string {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatalf("qemu-system-x86_64 not found (%v): install Debian's qemu-system-x86 (.ci/deps.sh does)", err)
	}
	// Short, and without commas (QEMU's option syntax): not t.TempDir.
	dir, err := os.MkdirTemp("", "vncr-qemu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "vnc.sock")
	args := []string{"-display", "none", "-nodefaults", "-S", "-machine", "pc", "-m", "16", "-vga", "std", "-name", "vencrypt"}
	vnc := "unix:" + sock
	if ca != nil {
		ca.WriteCA(t, dir, "ca-cert.pem")
		ca.Server(t, "compute-1.example").Write(t, dir, "server")
		args = append(args, "-object", "tls-creds-x509,id=tls0,dir="+dir+",endpoint=server,verify-peer=yes")
		vnc += ",tls-creds=tls0"
	}
	stderr := &testutil.Buffer{}
	cmd := exec.Command(bin, append(args, "-vnc", vnc)...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-exited:
			t.Fatalf("qemu exited: %s", stderr.String())
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu's VNC socket not there after 30 s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVeNCryptConsole: the RFB security proxy with VeNCrypt towards a real
// QEMU with x509 credentials. The right certificates open the console (the
// browser sees security type None, and QEMU's ServerInit comes through
// TLS); a console certificate the relay does not trust and a missing client
// certificate are each refused with a 502 before the 101, a reason header
// and a log line that say which.
func TestVeNCryptConsole(t *testing.T) {
	ca := testutil.NewTestCA(t, "compute CA")
	other := testutil.NewTestCA(t, "another CA")
	client := ca.Client(t, "nova-novncproxy")
	good := &tls.Config{RootCAs: ca.Pool, ServerName: "compute-1.example", Certificates: []tls.Certificate{client.TLS}}
	tests := []struct {
		name     string
		x509     bool // QEMU with x509 credentials, else plain (security type None)
		mode     auth.SecurityProxy
		cfg      *tls.Config
		status   int
		reason   string // the refusal's reason header
		logsCode string // code= in the log line
	}{
		{"vencrypt", true, auth.SecurityProxyRFBVeNCrypt, good, 101, "", ""},
		{"none,vencrypt: QEMU offers only VeNCrypt", true, auth.SecurityProxyRFBNoneOrVeNCrypt, good, 101, "", ""},
		{"vencrypt,none: a plain QEMU offers None", false, auth.SecurityProxyRFBVeNCryptOrNone, good, 101, "", ""},
		{"vencrypt: a plain QEMU", false, auth.SecurityProxyRFBVeNCrypt, good, http.StatusBadGateway,
			"console RFB handshake failed", "no_scheme"},
		{"console certificate from another CA", true, auth.SecurityProxyRFBVeNCrypt,
			&tls.Config{RootCAs: other.Pool, ServerName: "compute-1.example", Certificates: []tls.Certificate{client.TLS}},
			http.StatusBadGateway, "console TLS certificate not trusted", "tls_untrusted"},
		{"no client certificate", true, auth.SecurityProxyRFBVeNCrypt,
			&tls.Config{RootCAs: ca.Pool, ServerName: "compute-1.example"},
			http.StatusBadGateway, "console refused the relay's TLS client certificate", "closed_after_tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var qca *testutil.TestCA
			if tt.x509 {
				qca = ca
			}
			target := auth.Target{Network: "unix", Address: qemuVNCSocket(t, qca), SecurityProxy: tt.mode, VeNCrypt: tt.cfg}
			e := newEnv(t, benchrfb.ModeEcho, func(c *Config) {
				c.Resolver = auth.Static{Target: target}
				c.ConnectTimeout = 10 * time.Second
			})
			w := e.dialRaw(upgradeRequest("/websockify?token=" + canary))
			if w.status != tt.status {
				t.Fatalf("status %d, want %d: %q\nlogs:\n%s", w.status, tt.status, w.header, e.logs.String())
			}
			if tt.status != 101 {
				if got := headerValue(w.header, ReasonHeader); got != tt.reason || w.body != "" {
					t.Fatalf("reason %q, want %q; body %q", got, tt.reason, w.body)
				}
				if logs := e.logs.String(); !strings.Contains(logs, "console RFB handshake failed") ||
					!strings.Contains(logs, "code="+tt.logsCode) {
					t.Fatalf("no log line with code=%s:\n%s", tt.logsCode, logs)
				}
				waitFor(t, "pending back to 0", func() bool { return e.srv.Stats().Pending == 0 })
				return
			}
			// The browser's side: RFB 3.8, None, ClientInit, and QEMU's
			// ServerInit through the relay.
			rw := &wsStream{w: w}
			width, height, name, err := benchrfb.ClientHandshake(rw)
			if err != nil {
				t.Fatalf("RFB through the relay: %v\nlogs:\n%s", err, e.logs.String())
			}
			if width == 0 || height == 0 || !strings.Contains(name, "vencrypt") {
				t.Fatalf("ServerInit %dx%d %q", width, height, name)
			}
			// A FramebufferUpdateRequest for the whole screen: QEMU answers
			// with an update through TLS and the relay.
			w.send([]byte{3, 0, 0, 0, 0, 0, byte(width >> 8), byte(width), byte(height >> 8), byte(height)})
			if got := w.readData(4); got[0] != 0 {
				t.Fatalf("FramebufferUpdate starts % x", got)
			}
			if bytes.Contains([]byte(e.logs.String()), []byte("console RFB handshake failed")) {
				t.Fatalf("failure logged:\n%s", e.logs.String())
			}
		})
	}
}

// BenchmarkVeNCryptOpen opens consoles on QEMU through the relay, one at a
// time, with the security proxy choosing None and choosing VeNCrypt
// X509None: cpu-µs/open is this process's CPU (relay and the test's
// WebSocket client; QEMU's is its own) per console opened, TLS handshake
// included.
func BenchmarkVeNCryptOpen(b *testing.B) {
	ca := testutil.NewTestCA(b, "compute CA")
	client := ca.Client(b, "nova-novncproxy")
	cfg := &tls.Config{RootCAs: ca.Pool, ServerName: "compute-1.example", Certificates: []tls.Certificate{client.TLS}}
	for _, bb := range []struct {
		name string
		x509 *testutil.TestCA
		mode auth.SecurityProxy
	}{
		{"none", nil, auth.SecurityProxyRFBNone},
		{"vencrypt", ca, auth.SecurityProxyRFBVeNCrypt},
	} {
		b.Run(bb.name, func(b *testing.B) {
			target := auth.Target{Network: "unix", Address: qemuVNCSocket(b, bb.x509), SecurityProxy: bb.mode, VeNCrypt: cfg}
			e := newEnv(b, benchrfb.ModeEcho, func(c *Config) {
				c.Resolver = auth.Static{Target: target}
				c.ConnectTimeout = 10 * time.Second
			})
			var before, after syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			for b.Loop() {
				w := e.dialRaw(upgradeRequest("/websockify?token=" + canary))
				if w.status != 101 {
					b.Fatalf("status %d: %s", w.status, e.logs.String())
				}
				if _, _, _, err := benchrfb.ClientHandshake(&wsStream{w: w}); err != nil {
					b.Fatal(err)
				}
				_ = w.c.Close()
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/open")
		})
	}
}

// goVeNCryptConsole is a console written for the test: VeNCrypt 0.2 with
// X509None in plaintext, then a Go TLS server with cert, requiring a client
// certificate from ca when requireClient, then after runs inside TLS.
func goVeNCryptConsole(t *testing.T, cert tls.Certificate, ca *testutil.TestCA, requireClient bool, after func(*tls.Conn)) string {
	t.Helper()
	return testutil.ServeLoopback(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		// Each of the console's messages, then the relay's answer's length.
		steps := []struct {
			say  string
			read int
		}{
			{"RFB 003.008\n", 12},           // ProtocolVersion
			{"\x01\x13", 1},                 // one type: VeNCrypt; the choice
			{"\x00\x02", 2},                 // version 0.2; the relay's 0.2
			{"\x00\x01\x00\x00\x01\x04", 4}, // accepted, one sub-type X509None; the choice
			{"\x01", 0},                     // X509None accepted
		}
		buf := make([]byte, 16)
		for _, st := range steps {
			if _, err := io.WriteString(c, st.say); err != nil {
				return
			}
			if _, err := io.ReadFull(c, buf[:st.read]); err != nil {
				return
			}
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: ca.Pool, ClientAuth: tls.RequestClientCert}
		if requireClient {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		after(tc)
	})
}

// TestVeNCryptConsoleEnds: the ways a VeNCrypt console can end the setup
// inside TLS that QEMU does not show, each a 502 with its reason.
func TestVeNCryptConsoleEnds(t *testing.T) {
	ca := testutil.NewTestCA(t, "compute CA")
	server := ca.Server(t, "compute-1.example").TLS
	client := ca.Client(t, "nova-novncproxy").TLS
	withCert := &tls.Config{RootCAs: ca.Pool, ServerName: "compute-1.example", Certificates: []tls.Certificate{client}}
	noCert := &tls.Config{RootCAs: ca.Pool, ServerName: "compute-1.example"}
	hold := func(tc *tls.Conn) { _, _ = io.Copy(io.Discard, tc) }
	tests := []struct {
		name          string
		cfg           *tls.Config
		requireClient bool
		after         func(*tls.Conn)
		reason        string // a second choice after "|"
		code          string
	}{
		// The alert and the close can reach the loop before the worker's
		// handshake result: then only the close after TLS is known.
		{"Go's TLS server: certificate required alert after the handshake", noCert, true, hold,
			"console refused the TLS session|console refused the relay's TLS client certificate", "tls_alert|closed_after_tls"},
		{"close_notify after the handshake", withCert, false, func(tc *tls.Conn) { _ = tc.Close() },
			"console refused the relay's TLS client certificate", "closed_after_tls"},
		{"SecurityResult failed inside TLS", withCert, false, func(tc *tls.Conn) {
			_, _ = tc.Write([]byte("\x00\x00\x00\x01\x00\x00\x00\x06denied"))
			hold(tc)
		}, "console RFB handshake failed", "security_failed"},
		{"SecurityResult OK inside TLS, then ServerInit on ClientInit", withCert, false, func(tc *tls.Conn) {
			_, _ = tc.Write([]byte("\x00\x00\x00\x00"))
			hold(tc)
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := auth.Target{Network: "tcp", Address: goVeNCryptConsole(t, server, ca, tt.requireClient, tt.after),
				SecurityProxy: auth.SecurityProxyRFBVeNCrypt, VeNCrypt: tt.cfg}
			e := newEnv(t, benchrfb.ModeEcho, func(c *Config) {
				c.Resolver = auth.Static{Target: target}
				c.ConnectTimeout = 5 * time.Second
			})
			w := e.dialRaw(upgradeRequest("/websockify?token=" + canary))
			if tt.code == "" {
				if w.status != 101 {
					t.Fatalf("status %d: %q\nlogs:\n%s", w.status, w.header, e.logs.String())
				}
				return
			}
			reasons, codes := strings.Split(tt.reason, "|"), strings.Split(tt.code, "|")
			i := slices.Index(reasons, headerValue(w.header, ReasonHeader))
			if w.status != http.StatusBadGateway || i < 0 {
				t.Fatalf("status %d reason %q, want 502 %q\nlogs:\n%s", w.status, headerValue(w.header, ReasonHeader), tt.reason, e.logs.String())
			}
			if !strings.Contains(e.logs.String(), "code="+codes[i]) {
				t.Fatalf("no code=%s in the log:\n%s", codes[i], e.logs.String())
			}
			t.Logf("refused: code=%s", codes[i])
		})
	}
}
