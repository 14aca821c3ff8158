package engine

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"

	"golang.org/x/sys/unix"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// blackhole returns a loopback address whose listener never accepts and
// whose accept queue is full, so that new connections get no answer (the
// kernel drops their SYNs).
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}).String()
	// Fill the queue until a connect goes unanswered.
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Fatal("could not fill the accept queue")
	return ""
}

// resettingConsole accepts one connection, writes "hello" and resets it.
func resettingConsole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte("hello"))
		time.Sleep(100 * time.Millisecond)
		_ = c.(*net.TCPConn).SetLinger(0) // close sends RST
		_ = c.Close()
	}()
	return ln.Addr().String()
}

// TestSlowloris: trickled heads are cut at the handshake deadline, a head
// split over a thousand writes still completes, oversized and header-flooded
// heads get 431, and a live console keeps relaying throughout.
func TestSlowloris(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.HandshakeTimeout = time.Second
		c.MaxPendingHandshakes = 64
	})
	live := e.dial()
	live.rfbHandshake()

	const trickles = 40
	conns := make([]net.Conn, trickles)
	for i := range conns {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns[i] = c
	}
	stop := make(chan struct{})
	trickleDone := make(chan struct{})
	go func() { // one byte per connection every 50 ms, never a whole head
		defer close(trickleDone)
		head := []byte("GET /?token=" + canary + " HTTP/1.1\r\nX-Slow: ")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, c := range conns {
				_, _ = c.Write([]byte{head[min(i, len(head)-1)]})
			}
		}
	}()

	// A head in 1000 writes completes.
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte(upgradeRequest("/?token="+canary, "X-Pad: "+strings.Repeat("p", 900)))
	for i := range req {
		if _, err := c.Write(req[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if w := readResponse(t, c); w.status != 101 {
		t.Fatalf("split head: status %d", w.status)
	}
	if w := e.dialRaw("GET /" + strings.Repeat("a", 10000) + " HTTP/1.1\r\n\r\n"); w.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("long request line: %d", w.status)
	}
	if w := e.dialRaw(upgradeRequest("/?token="+canary, strings.Repeat("X: y\r\n", 3000)+"X: y")); w.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("3000 headers: %d", w.status)
	}

	// The live console relays while all of that goes on.
	for i := range 20 {
		msg := []byte(fmt.Sprintf("ping %02d", i))
		live.send(msg)
		if got := live.readData(len(msg)); string(got) != string(msg) {
			t.Fatalf("live console got %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every trickler is answered 408 at the deadline and closed.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 408 ") {
			t.Fatalf("trickler %d got %q", i, b)
		}
	}
	close(stop)
	<-trickleDone
	waitFor(t, "only the live console and the split-head one left", func() bool { return e.srv.Stats().Pending == 0 })
}
