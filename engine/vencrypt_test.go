//go:build linux

package engine

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
