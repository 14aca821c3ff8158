// Copyright (c) 2026 The vncrelay authors. Licensed as the rest of this module (Apache-2.0).

//go:build linux && !poll_opt && !gc_opt

package gnet

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdTestHandler echoes what it reads and reports opens and closes.
type fdTestHandler struct {
	BuiltinEventEngine
	opened, closed chan Conn
}

func newFdTestHandler() *fdTestHandler {
	return &fdTestHandler{opened: make(chan Conn, 8), closed: make(chan Conn, 8)}
}

func (h *fdTestHandler) OnOpen(c Conn) ([]byte, Action) { h.opened <- c; return nil, None }

func (h *fdTestHandler) OnClose(c Conn, _ error) Action { h.closed <- c; return None }

func (h *fdTestHandler) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	_, _ = c.Write(b)
	return None
}

// enrollPair enrolls one end of a socket pair in cli and returns the other
// end, and the Conn OnOpen saw.
func enrollPair(t *testing.T, cli *Client, h *fdTestHandler) (net.Conn, Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "peer")
	peer, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		_ = unix.Close(fds[0])
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	if err := cli.EnrollFDAsync(fds[0], nil, nil, nil, func() {}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-h.opened:
		return peer, c
	case <-time.After(5 * time.Second):
		t.Fatal("no OnOpen")
	}
	return nil, nil
}

// echoes checks that a connection is still served.
func echoes(t *testing.T, peer net.Conn) {
	t.Helper()
	_ = peer.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(peer, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo %q %v", b, err)
	}
}

// TestFdTableEngines: the process-wide descriptor table (vncrelay patch,
// conn_map.go) holds the connections of every engine in the process; an
// engine that stops closes its own connections (its loops walk the whole
// table), never another engine's, which go on being served, and a
// descriptor number freed by one engine and taken by the other reaches the
// other's connection only.
func TestFdTableEngines(t *testing.T) {
	h1, h2 := newFdTestHandler(), newFdTestHandler()
	cli1, err := NewClient(h1, WithNumEventLoop(2))
	if err != nil {
		t.Fatal(err)
	}
	cli2, err := NewClient(h2, WithNumEventLoop(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli1.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cli2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli2.Stop() }()

	peer1, c1 := enrollPair(t, cli1, h1)
	echoes(t, peer1)
	fd1 := c1.Fd()
	_ = peer1.Close() // the first engine closes c1 at EOF: its number is free
	select {
	case <-h1.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose in the first engine")
	}
	peer2, c2 := enrollPair(t, cli2, h2) // most likely on fd1 again
	t.Logf("first connection on fd %d, second on fd %d", fd1, c2.Fd())
	peer3, _ := enrollPair(t, cli1, h1)
	echoes(t, peer2)
	echoes(t, peer3)

	if err := cli1.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h1.closed: // peer3's connection
	case <-time.After(5 * time.Second):
		t.Fatal("the stopped engine did not close its connection")
	}
	echoes(t, peer2)
	select {
	case c := <-h2.closed:
		t.Fatalf("the first engine's stop closed the second engine's connection on fd %d", c.Fd())
	default:
	}
}

// TestAddrAfterClose: a stream connection keeps no addresses (vncrelay
// patch: LocalAddr and RemoteAddr ask the kernel), so once it is closed
// they are nil, never the addresses of a socket that has taken its
// descriptor number since.
func TestAddrAfterClose(t *testing.T) {
	h := newFdTestHandler()
	cli, err := NewClient(h, WithNumEventLoop(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli.Stop() }()
	peer, c := enrollPair(t, cli, h)
	onLoop := func(f func()) {
		t.Helper()
		done := make(chan struct{})
		err := c.EventLoop().Execute(context.Background(), RunnableFunc(func(context.Context) error {
			f()
			close(done)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("loop task did not run")
		}
	}
	var local, remote net.Addr
	onLoop(func() { local, remote = c.LocalAddr(), c.RemoteAddr() })
	if local == nil || remote == nil {
		t.Fatalf("open connection: LocalAddr %v, RemoteAddr %v; want both", local, remote)
	}
	fd := c.Fd()
	_ = peer.Close()
	select {
	case <-h.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // most likely on fd
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	onLoop(func() { local, remote = c.LocalAddr(), c.RemoteAddr() })
	t.Logf("closed connection was on fd %d; a listener on %s took the lowest free number since", fd, ln.Addr())
	if local != nil || remote != nil {
		t.Fatalf("closed connection: LocalAddr %v, RemoteAddr %v; want nil", local, remote)
	}
}

// TestWriteAfterClose: Write and Writev on a closed connection fail with
// net.ErrClosed and send nothing, even though its descriptor number now
// names another socket (upstream gnet wrote to the number).
func TestWriteAfterClose(t *testing.T) {
	h := newFdTestHandler()
	cli, err := NewClient(h, WithNumEventLoop(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli.Stop() }()
	peer, c := enrollPair(t, cli, h)
	fd := c.Fd()
	_ = peer.Close()
	select {
	case <-h.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
	// The lowest free number goes to the first socket of the pair: most
	// likely the closed connection's.
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	t.Logf("closed connection was on fd %d; the socket pair took %d and %d", fd, sp[0], sp[1])
	var werr, wverr error
	done := make(chan struct{})
	err = c.EventLoop().Execute(context.Background(), RunnableFunc(func(context.Context) error {
		_, werr = c.Write([]byte("not for you"))
		_, wverr = c.Writev([][]byte{[]byte("nor "), []byte("this")})
		close(done)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("loop task did not run")
	}
	if !errors.Is(werr, net.ErrClosed) || !errors.Is(wverr, net.ErrClosed) {
		t.Fatalf("Write: %v, Writev: %v; want net.ErrClosed", werr, wverr)
	}
	var buf [64]byte
	if n, err := unix.Read(sp[1], buf[:]); n > 0 {
		t.Fatalf("the socket that took the number received %q", buf[:n])
	} else if err != unix.EAGAIN {
		t.Fatalf("read the other socket: %d, %v; want EAGAIN", n, err)
	}
}
