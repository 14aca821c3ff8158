package e2e

import (
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// closeCode reads frames until a close frame and returns its code; 1006 when
// the connection ends without one (the code a browser reports then).
func (s *echoSession) closeCode(d time.Duration) int {
	_ = s.c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = s.c.SetReadDeadline(time.Time{}) }()
	for {
		var h [2]byte
		if _, err := io.ReadFull(s.br, h[:]); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				return 0
			}
			return 1006
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			_, _ = io.ReadFull(s.br, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			_, _ = io.ReadFull(s.br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(s.br, p); err != nil {
			return 1006
		}
		if h[0]&0x0f == 0x8 {
			if len(p) < 2 {
				return 1005
			}
			// Answer as a browser does, then the relay closes.
			_, _ = s.c.Write([]byte{0x88, 0x82, 0, 0, 0, 0, p[0], p[1]})
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// TestHandoverReusePort: two relay processes on one port (--reuse-port).
// SIGUSR2 makes the old one stop accepting: new consoles all reach the new
// one at once, the old one's console keeps relaying until
// --handover-timeout, then gets 1012, and the old process exits 0. Both
// share the admin port too; from the handover on, /readyz is the new
// process's (200), so that a health check keeps the host in service.
func TestHandoverReusePort(t *testing.T) {
	args := []string{"--reuse-port", "--handover-timeout", "3s", "--token-plugin", "TokenFile",
		"--token-source", tokenFile(t, echoConsole(t))}
	addr, old, oldLog := startRelayLogged(t, nil, append(args, "--admin", "127.0.0.1:0")...)
	m := adminRE.FindStringSubmatch(oldLog.String())
	if m == nil {
		t.Fatalf("no admin address in the log:\n%s", oldLog.String())
	}
	admin := m[1]
	kept := openEcho(t, addr)
	_, _, newLog := startListening(t, append(append([]string{relayBin}, args...), "--admin", admin, addr),
		func() []string { return []string{canary} })

	if err := old.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitLog(t, oldLog, "handing over")
	waitLog(t, oldLog, "admin listener closed")
	for i := range 10 {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			t.Fatalf("readyz %d during the handover: %v", i, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("readyz %d during the handover: %d, want the new process's 200", i, resp.StatusCode)
		}
	}
	for range 5 {
		s := openEcho(t, addr)
		s.roundTrip(t, []byte("new"))
	}
	waitLogCount(t, newLog, `msg="console open"`, 5) // the log is written asynchronously
	if n := strings.Count(oldLog.String(), `msg="console open"`); n != 1 {
		t.Fatalf("old relay opened %d consoles, want only the first", n)
	}
	kept.roundTrip(t, []byte("old console still relays"))
	if code := kept.closeCode(15 * time.Second); code != 1012 {
		t.Fatalf("old console closed with %d, want 1012", code)
	}
	if err, ok := old.wait(15 * time.Second); !ok {
		t.Fatal("old relay did not exit after the handover")
	} else if err != nil {
		t.Fatalf("old relay exit: %v", err)
	}
	s := openEcho(t, addr) // the new relay alone now
	s.roundTrip(t, []byte("after"))
}

// waitLogCount waits up to 10 s for a log to contain s n times, and fails
// if it holds more.
func waitLogCount(t *testing.T, log interface{ String() string }, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(log.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log said %q %d times, want %d:\n%s", s, strings.Count(log.String(), s), n, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Count(log.String(), s); got > n {
		t.Fatalf("log said %q %d times, want %d", s, got, n)
	}
}
