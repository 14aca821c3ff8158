package engine

import (
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// TestBrowserCloseFlushesConsole: what the browser sent before its close
// frame reaches the console even when the console is slow to read it, so
// that the bytes wait in the relay when the close comes (gnet drops a
// socket's unflushed bytes at close: the console is closed once they left).
func TestBrowserCloseFlushesConsole(t *testing.T) {
	// A small receive buffer keeps the kernel from taking the bytes off the
	// relay's hands: they wait in the relay's own buffer for the console.
	ln := smallBufferListener(t)
	defer ln.Close()
	got := countingConsole(ln, 300*time.Millisecond) // the browser's close arrives while its data waits
	const total = 12 << 20
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = staticResolver(t, ln.Addr().String())
		c.HighWater = 16 << 20 // everything fits in the relay's buffer for the console
	})
	w := e.dial()
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for sent := 0; sent < total; sent += len(chunk) {
		w.send(chunk)
	}
	w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "bye")))
	w.expectClose(wsframe.CloseNormal)
	select {
	case n := <-got:
		if n != total {
			t.Fatalf("console got %d of %d bytes the browser sent before closing", n, total)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("console never saw the end of the stream")
	}
}

// TestBrowserCloseLingerBounded: a console that never reads what the
// browser sent before closing holds its socket for CloseTimeout at most;
// then the socket is closed (the env's descriptor check sees none left).
func TestBrowserCloseLingerBounded(t *testing.T) {
	ln := smallBufferListener(t)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = staticResolver(t, ln.Addr().String())
		c.HighWater = 16 << 20
	})
	w := e.dial()
	chunk := make([]byte, 64<<10)
	for range 128 { // 8 MiB: more than the kernel takes for a console that does not read
		w.send(chunk)
	}
	w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
	w.expectClose(wsframe.CloseNormal)
	var c net.Conn
	select {
	case c = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("console not dialed")
	}
	defer c.Close()
	// The console reads nothing until well past the relay's deadline for it
	// (CloseTimeout, 1 s here, plus a sweep): the relay gives up, closes the
	// socket, and what it still held is not delivered.
	waitFor(t, "lingering console closed at its deadline", func() bool {
		n := 0
		e.srv.eachLoop(func(ls *loopState) { n += len(ls.lingering) })
		return n == 0
	})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("console socket not closed by the relay (read %d bytes)", n)
	}
	if n >= 8<<20 {
		t.Fatalf("all %d bytes delivered: the console was not left behind", n)
	}
}

// smallBufferListener listens on 127.0.0.1:0 with a 4 KiB receive buffer
// (inherited by the connections it accepts), so that the kernel does not
// take a relay's bytes off its hands while the console does not read.
func smallBufferListener(t *testing.T) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// countingConsole accepts one connection on ln, waits wait before reading
// (a console slow to read), then reads until the stream ends or for 10 s
// at most, and sends on the channel how many bytes it read (-1 when the
// accept failed).
func countingConsole(ln net.Listener, wait time.Duration) <-chan int {
	got := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		time.Sleep(wait)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _ := io.Copy(io.Discard, c)
		got <- int(n)
	}()
	return got
}
