package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// SourceIP spreads client i over loopback source addresses (127.0.x.y, y in
// 2..251), so that each address needs few ephemeral ports.
func SourceIP(i int) net.IP {
	return net.IPv4(127, 0, byte(i/250%250), byte(2+i%250))
}

// Client is one browser-side console session through a relay: the WebSocket
// upgrade with ?token=, then RFB over binary frames (or raw bytes for a plain
// TCP relay). Read and Write carry RFB bytes.
type Client struct {
	conn      net.Conn
	br        *bufio.Reader
	raw       bool
	frameLeft int64
	wmu       sync.Mutex // Write and the pongs Read sends may run on two goroutines
	wbuf      []byte
	mask      [4]byte
}

// ErrClosed is returned by Read when the relay sent a close frame.
var ErrClosed = errors.New("relay closed the WebSocket")

// Dial opens a session for token from source address src.
func Dial(ctx context.Context, r *Running, token string, src net.IP, timeout time.Duration) (*Client, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: src}}
	conn, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", r.Addr, err)
	}
	if r.Spec.TLS {
		conn = tls.Client(conn, clientTLS(r.Addr))
	}
	c := &Client{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), raw: r.Spec.Raw, mask: [4]byte{0x5a, 0xa5, 0x3c, 0xc3}}
	if c.raw {
		return c, nil
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = conn.SetDeadline(time.Time{}) }()
	req := fmt.Sprintf("GET %s?token=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: binary\r\n\r\n", r.Path, token, r.Addr)
	if _, err := io.WriteString(conn, req); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("send upgrade: %w", err)
	}
	status, err := c.br.ReadString('\n')
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("read upgrade response: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		_ = conn.Close()
		return nil, fmt.Errorf("upgrade refused: %s", strings.TrimSpace(status))
	}
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("read upgrade response: %w", err)
		}
		if line == "\r\n" {
			return c, nil
		}
	}
}

// Handshake runs the RFB client handshake.
func (c *Client) Handshake(timeout time.Duration) error {
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = c.conn.SetDeadline(time.Time{}) }()
	_, _, _, err := rfb.ClientHandshake(c)
	return err
}

// SetDeadline sets the socket deadline.
func (c *Client) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// Read reads RFB bytes: payloads of binary frames, answering pings.
func (c *Client) Read(p []byte) (int, error) {
	if c.raw {
		return c.br.Read(p)
	}
	for c.frameLeft == 0 {
		var hb [wsframe.MaxHeaderSize]byte
		if _, err := io.ReadFull(c.br, hb[:2]); err != nil {
			return 0, err
		}
		n := 2
		switch hb[1] & 0x7f {
		case 126:
			n = 4
		case 127:
			n = 10
		}
		if _, err := io.ReadFull(c.br, hb[2:n]); err != nil {
			return 0, err
		}
		h, _, err := wsframe.ParseHeader(hb[:n])
		if err != nil {
			return 0, err
		}
		switch {
		case h.Op == wsframe.OpClose:
			return 0, ErrClosed
		case h.Op.IsControl():
			payload := make([]byte, h.Length)
			if _, err := io.ReadFull(c.br, payload); err != nil {
				return 0, err
			}
			if h.Op == wsframe.OpPing {
				if err := c.writeFrame(wsframe.OpPong, payload); err != nil {
					return 0, err
				}
			}
		default:
			c.frameLeft = h.Length
		}
	}
	if int64(len(p)) > c.frameLeft {
		p = p[:c.frameLeft]
	}
	n, err := c.br.Read(p)
	c.frameLeft -= int64(n)
	return n, err
}

// Write sends p as one masked binary frame (raw bytes for a TCP relay).
func (c *Client) Write(p []byte) (int, error) {
	if c.raw {
		return c.conn.Write(p)
	}
	return len(p), c.writeFrame(wsframe.OpBinary, p)
}

func (c *Client) writeFrame(op wsframe.Opcode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	need := wsframe.MaxHeaderSize + len(p)
	if cap(c.wbuf) < need {
		c.wbuf = make([]byte, need)
	}
	b := c.wbuf[:need]
	n := wsframe.PutHeader(b, true, op, len(p))
	b[1] |= 0x80
	copy(b[n:], c.mask[:])
	n += 4
	copy(b[n:], p)
	wsframe.Unmask(b[n:n+len(p)], c.mask, 0)
	_, err := c.conn.Write(b[:n+len(p)])
	return err
}

// Close ends the session: a close frame, then the socket.
func (c *Client) Close() error {
	if !c.raw {
		var p [2]byte
		binary.BigEndian.PutUint16(p[:], uint16(wsframe.CloseNormal))
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.writeFrame(wsframe.OpClose, p[:])
	}
	return c.conn.Close()
}

// RequestUpdate sends a FramebufferUpdateRequest for a w×h framebuffer.
func (c *Client) RequestUpdate(w, h int, incremental bool) error {
	var m [10]byte
	m[0] = 3
	if incremental {
		m[1] = 1
	}
	binary.BigEndian.PutUint16(m[6:], uint16(w))
	binary.BigEndian.PutUint16(m[8:], uint16(h))
	_, err := c.Write(m[:])
	return err
}
