// Copyright (c) 2026 The vncrelay authors. Licensed as the rest of this module (Apache-2.0).

//go:build linux && !poll_opt

package gnet

import (
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/panjf2000/gnet/v2/pkg/socket"
)

// This file is the vncrelay patch to gnet v2.9.7: a read pause, a drain
// notification and enrolling a raw accepted socket, so that a relay can push back on a fast sender (stop reading its
// socket, letting TCP flow control slow it down) instead of buffering without bound.
// It applies to level-triggered mode only (the default); see PATCHES.md.

// PauseRead removes read interest for c from the poller until ResumeRead; write
// interest is kept while output is pending. It must be called on c's event loop.
func (c *conn) PauseRead() error {
	if c.readPaused || c.isDatagram {
		return nil
	}
	c.readPaused = true
	if c.outboundBuffer.IsEmpty() {
		return c.loop.poller.ModNone(&c.pollAttachment)
	}
	return c.loop.poller.ModWrite(&c.pollAttachment, false)
}

// ResumeRead restores read interest removed by PauseRead. It must be called on
// c's event loop.
func (c *conn) ResumeRead() error {
	if !c.readPaused {
		return nil
	}
	c.readPaused = false
	if c.outboundBuffer.IsEmpty() {
		return c.loop.poller.ModRead(&c.pollAttachment, false)
	}
	return c.loop.poller.ModReadWrite(&c.pollAttachment, false)
}

// ReadPaused reports whether PauseRead is in effect.
func (c *conn) ReadPaused() bool { return c.readPaused }

// NotifyDrain asks for one call of the handler's OnDrain (see Drainer) once c's
// outbound buffer holds at most mark bytes; mark < 0 cancels. It must be called
// on c's event loop.
func (c *conn) NotifyDrain(mark int) {
	if mark < 0 {
		c.drainMark = 0
		return
	}
	c.drainMark = mark + 1
}

// Drainer is an optional interface of an EventHandler: OnDrain is called on the
// event loop when a connection's outbound buffer has fallen to the mark given to
// Conn.NotifyDrain. The request is one-shot.
type Drainer interface {
	OnDrain(c Conn)
}

func (el *eventloop) notifyDrain(c *conn) {
	if c.drainMark == 0 || c.outboundBuffer.Buffered() > c.drainMark-1 {
		return
	}
	c.drainMark = 0
	if d, ok := el.eventHandler.(Drainer); ok {
		d.OnDrain(c)
	}
}

func (c *conn) modReadWrite(edgeTriggered bool) error {
	if c.readPaused {
		return c.loop.poller.ModWrite(&c.pollAttachment, edgeTriggered)
	}
	return c.loop.poller.ModReadWrite(&c.pollAttachment, edgeTriggered)
}

func (c *conn) modRead(edgeTriggered bool) error {
	if c.readPaused {
		return c.loop.poller.ModNone(&c.pollAttachment)
	}
	return c.loop.poller.ModRead(&c.pollAttachment, edgeTriggered)
}

// The second part of the vncrelay patch lets the handler move a socket's bytes
// itself, without gnet's read buffer: vncrelay splices a console's bytes
// through a pipe to the browser's socket. SetRawRead hands it the socket's
// readability, NotifyWritable the other socket's writability.

// RawReader is an optional interface of an EventHandler (vncrelay patch): for
// a connection with SetRawRead(true), OnReadable is called on the event loop
// when the socket is readable, before gnet reads it. It returns done when it
// has handled the event itself (read the socket, or chose to leave it), false
// to let gnet read it into its buffer and call OnTraffic as usual. A non-nil
// err closes c with err (io.EOF at the end of the stream).
type RawReader interface {
	OnReadable(c Conn) (done bool, err error)
}

// Writabler is an optional interface of an EventHandler (vncrelay patch):
// OnWritable is called on the event loop once after Conn.NotifyWritable, when
// c's socket is writable and its outbound buffer is empty (gnet has sent what
// was written through it).
type Writabler interface {
	OnWritable(c Conn)
}

// SetRawRead turns the RawReader hook on or off for c. It must be called on
// c's event loop.
func (c *conn) SetRawRead(on bool) { c.rawRead = on }

// NotifyWritable asks for one call of the handler's OnWritable once c's socket
// is writable and its outbound buffer empty. It keeps write interest in the
// poller until then. It must be called on c's event loop.
func (c *conn) NotifyWritable() error {
	if c.wantWrite {
		return nil
	}
	c.wantWrite = true
	return c.modReadWrite(false)
}

func (el *eventloop) readRaw(c *conn) (bool, error) {
	r, ok := el.eventHandler.(RawReader)
	if !ok {
		return false, nil
	}
	done, err := r.OnReadable(c)
	if !c.opened {
		return true, nil // the handler closed c (or its peer, and so c)
	}
	if err != nil {
		return true, el.close(c, os.NewSyscallError("splice", err))
	}
	return done, nil
}

// writable runs in eventloop.write once the outbound buffer is empty.
func (el *eventloop) writable(c *conn) error {
	if !c.wantWrite {
		return nil
	}
	c.wantWrite = false
	if w, ok := el.eventHandler.(Writabler); ok {
		w.OnWritable(c)
	}
	if !c.opened || c.wantWrite || !c.outboundBuffer.IsEmpty() {
		return nil // closed, asked again, or wrote through gnet: write interest stays
	}
	return c.modRead(false)
}

// EnrollFDAsync adds an accepted, non-blocking TCP socket to the client's
// least loaded event loop, as EnrollContext does for a net.Conn, but without
// the detour through Go's net package (EnrollContext costs a netpoll
// registration, a dup and a close per connection) and without waiting: the
// call returns at once, so that the caller (an accept loop) is not parked
// and woken for every connection. The connection owns fd from here on. sa is
// the peer address from accept4 (not kept: RemoteAddr asks the kernel when
// asked), local the listener's address. registered
// runs on the event loop after the registration, whether it succeeded (the
// handler's OnOpen ran with ctx) or not (fd was closed; OnOpen did not run):
// the caller tells the two apart by what its OnOpen recorded in ctx. An error
// is returned, and fd closed, only when the loop could not be reached
// (engine shut down); registered does not run then.
func (cli *Client) EnrollFDAsync(fd int, sa unix.Sockaddr, local net.Addr, ctx any, registered func()) error {
	el := cli.eng.eventLoops.next(nil)
	gc := newStreamConn("tcp", fd, el, nil, local, nil) // the peer address on demand: RemoteAddr
	gc.ctx = ctx
	ccb := &connWithCallback{c: gc, cb: registered}
	if err := el.poller.Trigger(queue.HighPriority, el.register, ccb); err != nil {
		_ = unix.Close(fd)
		gc.release()
		return err
	}
	return nil
}

// ConnectFD adds to the event loop that owns on a non-blocking stream
// socket fd on which connect(2) to sa has been issued (and returned
// EINPROGRESS, or succeeded). The loop waits for the socket to become
// writable, reads SO_ERROR, and then either opens the connection as it
// opens an enrolled one (OnOpen, then reads, with ctx as its context) or
// closes it with the connect error (OnClose(c, err), err an *os.SyscallError
// for "connect"). Until then the returned Conn can only be closed (its
// EventLoop().Close runs OnClose with a nil error). It must be called on
// on's event loop: no goroutine, channel or task queue is involved. The
// connection owns fd from the call on; on error fd is closed and OnClose
// does not run.
func ConnectFD(on Conn, fd int, sa unix.Sockaddr, ctx any) (Conn, error) {
	el := on.(*conn).loop
	proto := "tcp"
	if _, ok := sa.(*unix.SockaddrUnix); ok {
		proto = "unix"
	}
	gc := newStreamConn(proto, fd, el, nil, nil, nil) // addresses on demand: LocalAddr, RemoteAddr
	gc.ctx = ctx
	gc.opened, gc.connecting = true, true
	if err := el.poller.AddWrite(&gc.pollAttachment, false); err != nil {
		_ = unix.Close(fd)
		gc.release()
		return nil, err
	}
	el.connections.addConn(gc, el.idx)
	return gc, nil
}

// connected ends the connect of a ConnectFD socket at its first event. An
// event that is not the connect's end is ignored: gnet dispatches events by
// descriptor number, so an event the kernel queued for a socket closed
// earlier in the same epoll_wait batch reaches a new socket that got its
// number; a connect still in progress has no error yet, so a success is
// confirmed with getpeername(2) (ENOTCONN while in progress).
func (el *eventloop) connected(c *conn, ev netpoll.IOEvent) error {
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		return nil // not for this socket: still waiting for writability
	}
	errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && errno != 0 {
		err = unix.Errno(errno)
	}
	if err == nil {
		if _, perr := unix.Getpeername(c.fd); perr == unix.ENOTCONN {
			return nil // in progress: the event was another socket's
		}
	}
	c.connecting = false
	if err != nil {
		return el.close(c, os.NewSyscallError("connect", err))
	}
	if err := c.modRead(false); err != nil {
		return el.close(c, err)
	}
	return el.open(c)
}

// lookupRemoteAddr is RemoteAddr: the sender of an unconnected UDP socket's
// datagram, else the kernel's answer for the socket's peer; nil when it
// cannot tell (a stream socket not open yet, still connecting, or no longer
// connected).
func (c *conn) lookupRemoteAddr() net.Addr {
	if c.isDatagram {
		if c.remote != nil {
			return socket.SockaddrToUDPAddr(c.remote)
		}
		sa, err := unix.Getpeername(c.fd)
		if err != nil {
			return nil
		}
		return socket.SockaddrToUDPAddr(sa)
	}
	if !c.opened || c.connecting {
		return nil
	}
	sa, err := unix.Getpeername(c.fd)
	if err != nil {
		return nil
	}
	return socket.SockaddrToTCPOrUnixAddr(sa)
}

// lookupLocalAddr is LocalAddr: the listener's address for an unconnected
// UDP socket's datagram, else the kernel's answer for the socket; nil when
// it cannot tell (a stream socket not open yet, or still connecting).
func (c *conn) lookupLocalAddr() net.Addr {
	if c.isDatagram {
		if ln, ok := c.loop.listeners[c.fd]; ok {
			return ln.addr
		}
		sa, err := unix.Getsockname(c.fd)
		if err != nil {
			return nil
		}
		return socket.SockaddrToUDPAddr(sa)
	}
	if !c.opened || c.connecting {
		return nil
	}
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return nil
	}
	return socket.SockaddrToTCPOrUnixAddr(sa)
}
