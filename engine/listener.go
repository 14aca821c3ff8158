package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// listenBacklog is the accept queue asked of the kernel (capped by
// net.core.somaxconn).
const listenBacklog = 4096

// rawListener is the relay's listening socket, in blocking mode, accepted
// from one goroutine with accept4. It bypasses Go's net package because each
// accepted socket goes straight to a gnet loop: a net.Conn would cost a netpoll
// registration, a dup and a close per connection for nothing.
type rawListener struct {
	fd     int
	addr   *net.TCPAddr
	closed atomic.Bool
	// adopted: the socket was handed over (socket activation) and the
	// service manager keeps its own reference: see shutdown.
	adopted bool
}

var errListenerClosed = errors.New("listener closed")

// listenRaw opens a listening TCP socket on addr. An empty host listens on
// every address, IPv6 and IPv4 alike where the kernel allows. reusePort sets
// SO_REUSEPORT, so that other processes (of the same user) listen on the
// same port and the kernel spreads new connections among them.
func listenRaw(addr string, preferIPv6, reusePort bool) (*rawListener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	network := "tcp"
	if preferIPv6 {
		network = "tcp6"
	}
	var ip net.IP
	if host != "" {
		ta, err := net.ResolveTCPAddr(network, net.JoinHostPort(host, port))
		if err != nil && preferIPv6 {
			ta, err = net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
		}
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", addr, err)
		}
		ip, port = ta.IP, fmt.Sprint(ta.Port)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil, fmt.Errorf("listen port %q: %w", port, err)
	}
	fd, err := bindListen(ip, p, reusePort)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	return &rawListener{fd: fd, addr: sockaddrTCP(sa)}, nil
}

// adoptListener takes a listening TCP socket handed to the process (socket
// activation). It checks that fd is one, and puts it in blocking mode, as
// the accept goroutine uses it.
func adoptListener(fd int) (*rawListener, error) {
	fail := func(err error) (*rawListener, error) {
		return nil, fmt.Errorf("listening socket %d (socket activation): %w", fd, err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return fail(err)
	} else if v != 1 {
		return fail(errors.New("not a listening socket"))
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || v != unix.SOCK_STREAM {
		return fail(errors.New("not a stream socket"))
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail(err)
	}
	switch sa.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
	default:
		return fail(errors.New("not a TCP socket"))
	}
	addr := sockaddrTCP(sa)
	if err := unix.SetNonblock(fd, false); err != nil {
		return fail(err)
	}
	unix.CloseOnExec(fd)
	return &rawListener{fd: fd, addr: addr, adopted: true}, nil
}

// bindListen makes the socket: IPv4 for an IPv4 address, IPv6 otherwise; the
// unspecified address is dual-stack IPv6 when the kernel has IPv6, else IPv4.
func bindListen(ip net.IP, port int, reusePort bool) (int, error) {
	var sa unix.Sockaddr
	family := unix.AF_INET6
	switch {
	case ip == nil:
		sa = &unix.SockaddrInet6{Port: port}
	case ip.To4() != nil:
		family = unix.AF_INET
		s4 := &unix.SockaddrInet4{Port: port}
		copy(s4.Addr[:], ip.To4())
		sa = s4
	default:
		s6 := &unix.SockaddrInet6{Port: port}
		copy(s6.Addr[:], ip.To16())
		sa = s6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil && ip == nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: port}
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	opts := [][3]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}}
	if reusePort {
		opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1})
	}
	if family == unix.AF_INET6 && ip == nil {
		opts = append(opts, [3]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			_ = unix.Close(fd)
			return -1, fmt.Errorf("setsockopt: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("listen: %w", err)
	}
	return fd, nil
}

// accept waits for a connection and returns it non-blocking, with
// TCP_NODELAY set (console traffic is interactive).
func (l *rawListener) accept() (int, unix.Sockaddr, error) {
	for {
		fd, sa, err := unix.Accept4(l.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case l.closed.Load():
			if err == nil {
				_ = unix.Close(fd)
			}
			return -1, nil, errListenerClosed
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		case err != nil:
			return -1, nil, fmt.Errorf("accept: %w", err)
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		return fd, sa, nil
	}
}

// shutdown wakes a blocked accept (it fails with EINVAL) and makes every
// later one fail; the accept goroutine closes the descriptor on its way out,
// so that the number cannot be reused while accept4 might still be using it.
func (l *rawListener) shutdown() {
	if l.closed.Swap(true) {
		return
	}
	if l.adopted && l.wake() {
		return
	}
	_ = unix.Shutdown(l.fd, unix.SHUT_RDWR)
}

// wake ends a blocked accept of an adopted socket with a connection of its
// own. shutdown(2) would also end it, but on a listening socket it stops
// the listening for every holder: the service manager's copy, which keeps
// connections queued while the relay restarts, would stop too. It reports
// whether the connection was made.
func (l *rawListener) wake() bool {
	addr := *l.addr
	if addr.IP == nil || addr.IP.IsUnspecified() {
		addr.IP = net.IPv6loopback
		if l.addr.IP.To4() != nil {
			addr.IP = net.IPv4(127, 0, 0, 1)
		}
	}
	c, err := net.DialTimeout("tcp", addr.String(), time.Second)
	if err != nil && addr.IP.Equal(net.IPv6loopback) {
		addr.IP = net.IPv4(127, 0, 0, 1) // a dual-stack socket on a host without ::1
		c, err = net.DialTimeout("tcp", addr.String(), time.Second)
	}
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func (l *rawListener) close() { _ = unix.Close(l.fd) }

// sockaddrAddrPort is the address and port of an IP socket address; the
// zero AddrPort for any other.
func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

func sockaddrTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	}
	return &net.TCPAddr{}
}
