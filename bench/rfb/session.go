package rfb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// conn is one client after the handshake, in ModeDraw or ModeStream.
type conn struct {
	srv   *Server
	c     net.Conn
	br    *bufio.Reader
	w, h  int
	pf    PixelFormat
	frame int
	buf   []byte
}

// loop reads client messages by type and answers update requests.
func (s *conn) loop() error {
	var hdr [20]byte
	for {
		t, err := s.br.ReadByte()
		if err != nil {
			return err
		}
		switch t {
		case msgSetPixelFormat:
			if _, err := io.ReadFull(s.br, hdr[:19]); err != nil {
				return err
			}
			if pf, ok := parsePixelFormat(hdr[3:19]); ok {
				s.pf = pf
			}
		case msgSetEncodings:
			if _, err := io.ReadFull(s.br, hdr[:3]); err != nil {
				return err
			}
			n := int(binary.BigEndian.Uint16(hdr[1:3]))
			if _, err := s.br.Discard(4 * n); err != nil {
				return err
			}
		case msgFramebufferUpdateRequest:
			if _, err := io.ReadFull(s.br, hdr[:9]); err != nil {
				return err
			}
			if err := s.update(hdr[0] != 0); err != nil {
				return err
			}
		case msgKeyEvent:
			if _, err := io.ReadFull(s.br, hdr[:7]); err != nil {
				return err
			}
			if s.srv.Keys != nil {
				select {
				case s.srv.Keys <- KeyEvent{Down: hdr[0] != 0, Key: binary.BigEndian.Uint32(hdr[3:7])}:
				default:
				}
			}
		case msgPointerEvent:
			if _, err := io.ReadFull(s.br, hdr[:5]); err != nil {
				return err
			}
		case msgClientCutText:
			if _, err := io.ReadFull(s.br, hdr[:7]); err != nil {
				return err
			}
			n := int(binary.BigEndian.Uint32(hdr[3:7]))
			if n > maxCutText {
				return fmt.Errorf("rfb: cut text of %d bytes", n)
			}
			if _, err := s.br.Discard(n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("rfb: unknown client message type %d", t)
		}
	}
}

// update answers one FramebufferUpdateRequest.
func (s *conn) update(incremental bool) error {
	if s.srv.Mode == ModeStream {
		return s.send(0, 0, s.w, s.h, s.stream)
	}
	if incremental {
		d := s.srv.FrameInterval
		if d <= 0 {
			d = 100 * time.Millisecond
		}
		time.Sleep(d)
	}
	s.frame++
	return s.send(0, 0, s.w, s.h, s.draw)
}

// send writes a FramebufferUpdate with one raw rectangle filled by fill.
func (s *conn) send(x, y, w, h int, fill func(px []byte, w, h int)) error {
	n := 4 + 12 + 4*w*h
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	b[0], b[1] = 0, 0
	binary.BigEndian.PutUint16(b[2:], 1)
	binary.BigEndian.PutUint16(b[4:], uint16(x))
	binary.BigEndian.PutUint16(b[6:], uint16(y))
	binary.BigEndian.PutUint16(b[8:], uint16(w))
	binary.BigEndian.PutUint16(b[10:], uint16(h))
	binary.BigEndian.PutUint32(b[12:], 0) // raw encoding
	fill(b[16:], w, h)
	_, err := s.c.Write(b)
	return err
}

// stream fills an update with a byte pattern that changes per update.
func (s *conn) stream(px []byte, _, _ int) {
	s.frame++
	for i := range px {
		px[i] = byte(i + s.frame)
	}
}

// draw paints the demo picture: a colour gradient, a white band that moves
// each frame, and a solid test square in the top-left corner (red, green and
// blue quarters) that tests can look for in the browser's canvas.
func (s *conn) draw(px []byte, w, h int) {
	band := (s.frame * 4) % w
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := uint8(x*255/w), uint8(y*255/h), uint8(128)
			switch {
			case x < 16 && y < 16:
				r, g, b = 255, 0, 0
			case x < 32 && y < 16:
				r, g, b = 0, 255, 0
			case x < 48 && y < 16:
				r, g, b = 0, 0, 255
			case x >= band && x < band+8:
				r, g, b = 255, 255, 255
			}
			s.pf.put(px[4*(y*w+x):], r, g, b)
		}
	}
}
