package engine

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestListenFD: a listening socket handed over (systemd socket activation)
// is served, and Shutdown leaves it listening for its other holder (the
// service manager, which queues connections while the relay restarts).
func TestListenFD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File() // a second descriptor of the same socket
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The engine owns the descriptor it is given and closes it; an *os.File
	// closes its own when collected, so the engine gets a third one.
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.ListenFD = fd })
	if got := e.srv.Addr().String(); got != ln.Addr().String() {
		t.Fatalf("serving %s, the handed socket is %s", got, ln.Addr())
	}
	w := e.dial()
	w.rfbHandshake()
	if _, err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.ExpectAccepting(t, ln) // still listening for its other holder

	// Not a listening socket: refused by New.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cf, _ := conn.(*net.TCPConn).File()
	defer cf.Close()
	if _, err := New(Config{Listen: "127.0.0.1:0", ListenFD: int(cf.Fd()), Resolver: staticResolver(t, "127.0.0.1:1")}); err == nil {
		t.Fatal("a connected socket was taken as a listener")
	}
}
