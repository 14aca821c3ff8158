package engine

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// TestHeartbeat: pings go out at the interval; a browser that answers stays,
// one that does not is closed at the pong timeout.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Heartbeat = 300 * time.Millisecond
		c.PongTimeout = 400 * time.Millisecond
	})
	alive := e.dial()
	alive.rfbHandshake()
	pings := 0
	for pings < 3 {
		op, p, err := alive.readFrame(2 * time.Second)
		if err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		if op == wsframe.OpPing {
			pings++
			alive.write(frame(true, wsframe.OpPong, p))
		}
	}

	silent := e.dial()
	silent.rfbHandshake()
	start := time.Now()
	silent.expectClose(wsframe.ClosePolicyViolation)
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("closed after %v: before heartbeat + pong timeout", d)
	}
	waitFor(t, "pong timeout counted", func() bool { return e.srv.Stats().Closed[ReasonPongTimeout] == 1 })
	if s := e.srv.Stats(); s.Consoles != 1 {
		t.Fatalf("the answering browser was closed too: %+v", s)
	}
}

// TestConsoleIdleTimeout: no traffic either way closes the console.
func TestConsoleIdleTimeout(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.ConsoleIdleTimeout = 400 * time.Millisecond })
	w := e.dial()
	w.rfbHandshake()
	if r := w.expectClose(wsframe.CloseNormal); r != "idle timeout" {
		t.Fatalf("reason %q", r)
	}
	w.expectEOF()
}

// TestServerIdleTimeout: websockify's --idle-timeout stops the server after
// a time with no console.
func TestServerIdleTimeout(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.ServerIdleTimeout = 600 * time.Millisecond })
	w := e.dial()
	w.rfbHandshake()
	time.Sleep(800 * time.Millisecond) // a console is open: no exit
	select {
	case err := <-e.served:
		t.Fatalf("server stopped with a console open: %v", err)
	default:
	}
	w.write(frame(true, wsframe.OpClose, nil))
	w.expectEOF()
	select {
	case err := <-e.served:
		if !errors.Is(err, ErrServerIdle) {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("server did not stop when idle")
	}
}

// TestShutdownDrain: every browser receives close 1001 and every console
// socket is closed before Shutdown returns, within the drain timeout.
func TestShutdownDrain(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.DrainTimeout = 3 * time.Second })
	const n = 20
	clients := make([]*wsClient, n)
	for i := range clients {
		clients[i] = e.dial()
		clients[i].rfbHandshake()
	}
	var wg sync.WaitGroup
	for _, w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.expectClose(wsframe.CloseGoingAway)
		}()
	}
	start := time.Now()
	cut, err := e.srv.Shutdown(context.Background())
	if err != nil || cut != 0 {
		t.Fatalf("shutdown: cut %d, %v", cut, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("drain took %v", d)
	}
	wg.Wait()
	if st := e.srv.Stats(); st.Closed[ReasonShutdown] != n {
		t.Fatalf("closed for shutdown: %d, want %d", st.Closed[ReasonShutdown], n)
	}
	if _, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// TestMaxConnections: connections over the cap get 503 at once; the ones
// inside it keep working.
func TestMaxConnections(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.MaxConnections = 2 })
	a, b := e.dial(), e.dial()
	a.rfbHandshake()
	b.rfbHandshake()
	w := e.dialRaw(upgradeRequest("/?token=" + canary))
	if w.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", w.status)
	}
	a.send([]byte("still here"))
	if got := a.readData(10); string(got) != "still here" {
		t.Fatalf("got %q", got)
	}
}

// TestPendingHandshakeCap: connections that send nothing fill the pending
// cap; past it new connections get 503, and live consoles are unaffected.
func TestPendingHandshakeCap(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.MaxPendingHandshakes = 5
		c.HandshakeTimeout = 2 * time.Second
	})
	live := e.dial()
	live.rfbHandshake()
	for range 5 {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	waitFor(t, "5 pending", func() bool { return e.srv.Stats().Pending == 5 })
	w := e.dialRaw(upgradeRequest("/?token=" + canary))
	if w.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", w.status)
	}
	live.send([]byte("ok"))
	if got := live.readData(2); string(got) != "ok" {
		t.Fatalf("got %q", got)
	}
}

// TestShutdownWithoutServe: a server that never served shuts down at once.
func TestShutdownWithoutServe(t *testing.T) {
	srv, err := New(Config{Listen: "127.0.0.1:0", Resolver: staticTarget("127.0.0.1:1"), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown without Serve hangs")
	}
}
