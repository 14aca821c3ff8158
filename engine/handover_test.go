package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// handoverPair starts relay A, opens a console on it, then starts relay B
// on the same port (SO_REUSEPORT) and hands A over with keep.
func handoverPair(t *testing.T, keep time.Duration) (a, b *env, w *wsClient, done chan error) {
	t.Helper()
	a = newEnv(t, rfb.ModeEcho, func(c *Config) { c.ReusePort = true })
	w = a.dial()
	w.rfbHandshake()
	b = newEnv(t, rfb.ModeEcho, func(c *Config) { c.ReusePort = true; c.Listen = a.addr })
	if b.addr != a.addr {
		t.Fatalf("B listens on %s, A on %s", b.addr, a.addr)
	}
	done = make(chan error, 1)
	go func() {
		_, err := a.srv.Handover(context.Background(), keep)
		done <- err
	}()
	waitFor(t, "A stops accepting", func() bool { return strings.Contains(a.logs.String(), "handing over") })
	return a, b, w, done
}

// TestHandoverKeepsConsoles: after Handover, A accepts nothing and B takes
// every new console, while A's console keeps relaying; at the keep deadline
// A's console gets 1012 and Handover returns.
func TestHandoverKeepsConsoles(t *testing.T) {
	a, b, old, done := handoverPair(t, 1500*time.Millisecond)
	// Every new console reaches B now (B's console is another echo server;
	// the token file of each relay points at its own).
	for i := range 5 {
		w := a.dial() // a.addr == b.addr
		w.rfbHandshake()
		w.send([]byte("new"))
		if got := string(w.readData(3)); got != "new" {
			t.Fatalf("new console %d: %q", i, got)
		}
	}
	if st := a.srv.Stats(); st.Opened != 1 {
		t.Fatalf("A opened %d consoles after the handover began, want only the first", st.Opened)
	}
	if st := b.srv.Stats(); st.Opened != 5 {
		t.Fatalf("B opened %d consoles, want 5", st.Opened)
	}
	old.send([]byte("old"))
	if got := string(old.readData(3)); got != "old" {
		t.Fatalf("old console: %q", got)
	}
	if got := old.expectClose(wsframe.CloseServiceRestart); got != "service restart" {
		t.Fatalf("reason %q", got)
	}
	old.expectEOF()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Handover did not return")
	}
	if st := a.srv.Stats(); st.Closed[ReasonRestart] != 1 {
		t.Fatalf("closed by reason: %v", st.Closed)
	}
}

// TestHandoverEndsWithConsoles: Handover returns as soon as the last
// console ends, long before keep.
func TestHandoverEndsWithConsoles(t *testing.T) {
	a, _, old, done := handoverPair(t, time.Hour)
	old.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
	old.expectClose(wsframe.CloseNormal)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Handover did not return when the last console ended")
	}
	if st := a.srv.Stats(); st.Closed[ReasonRestart] != 0 || st.Closed[ReasonBrowserClose] != 1 {
		t.Fatalf("closed by reason: %v", st.Closed)
	}
}

// TestReusePortOff: without ReusePort a second relay cannot take the port.
func TestReusePortOff(t *testing.T) {
	a := newEnv(t, rfb.ModeEcho, nil)
	if _, err := New(Config{Listen: a.addr, Resolver: a.srv.cfg.Resolver, Loops: 1}); err == nil {
		t.Fatal("second listener on the port without SO_REUSEPORT")
	}
}
