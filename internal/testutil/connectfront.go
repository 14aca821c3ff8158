package testutil

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// ConnectFront is an HTTP CONNECT front for one console, as a hypervisor's
// console gateway is to Nova's internal_access_path: it reads a request
// head, and unless its request line is "CONNECT <path> HTTP/1.1" it answers
// 404 and closes. Otherwise it answers with answer; when that is a 200 it
// dials upstream and relays, the upstream's first 12 bytes (an RFB
// ProtocolVersion) riding in the same write as the answer, so that a
// client must keep bytes that share a segment with the answer. It listens
// on a loopback port until tb ends and returns its address.
func ConnectFront(tb testing.TB, path, answer, upstream string) string {
	tb.Helper()
	return ServeLoopback(tb, func(c net.Conn) { serveConnect(c, path, answer, upstream) })
}

func serveConnect(c net.Conn, path, answer, upstream string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if l == "\r\n" {
			break
		}
	}
	if line != "CONNECT "+path+" HTTP/1.1\r\n" {
		_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\n\r\n")
		return
	}
	if !strings.Contains(answer, " 200") {
		_, _ = io.WriteString(c, answer)
		return
	}
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	first := make([]byte, 12)
	if _, err := io.ReadFull(up, first); err != nil {
		return
	}
	if _, err := c.Write(append([]byte(answer), first...)); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	// Plain copies: io.Copy between TCP sockets would splice through pipes
	// that Go's runtime pools and keeps, which descriptor checks would count.
	go func() {
		_, _ = io.Copy(struct{ io.Writer }{up}, struct{ io.Reader }{br})
		_ = up.Close() // the client left: so does the console connection
	}()
	_, _ = io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{up})
}
