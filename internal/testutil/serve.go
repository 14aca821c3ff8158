package testutil

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
)

// Serve accepts connections on ln until tb ends (it closes ln then) and
// runs handle on each in a goroutine of its own, closing the connection
// when handle returns. It returns ln's address.
func Serve(tb testing.TB, ln net.Listener, handle func(net.Conn)) string {
	tb.Helper()
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ServeLoopback is Serve on a new TCP listener on 127.0.0.1:0: a console,
// front or server written for a test. A failure to listen fails the test.
func ServeLoopback(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return Serve(tb, ln, handle)
}

// TLSFront terminates TLS with cert on a loopback port and forwards each
// connection's plaintext to upstream() (asked per connection), as a
// console that speaks TLS (websockify's --ssl-target) looks to the relay.
// The console's end of the stream is passed on as a TLS close. It returns
// its address.
func TLSFront(tb testing.TB, cert tls.Certificate, upstream func() string) string {
	tb.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		tb.Fatal(err)
	}
	return Serve(tb, ln, func(c net.Conn) {
		b, err := net.Dial("tcp", upstream())
		if err != nil {
			return
		}
		defer b.Close()
		go func() { _, _ = io.Copy(b, c); _ = b.(*net.TCPConn).CloseWrite() }()
		_, _ = io.Copy(c, b)
	})
}
