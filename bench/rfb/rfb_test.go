package rfb

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
)

// TestHandshakeAndDraw runs the client handshake against the server and
// reads one full update in the pixel format the client asked for.
func TestHandshakeAndDraw(t *testing.T) {
	s := &Server{Mode: ModeDraw, Width: 64, Height: 32, FrameInterval: 1}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, h, name, err := ClientHandshake(c)
	if err != nil || w != 64 || h != 32 || name != "vncrelay demo" {
		t.Fatalf("handshake: %d %d %q %v", w, h, name, err)
	}
	// SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, red at 0,
	// green at 8, blue at 16 (noVNC's), then a full update request.
	pf := []byte{0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0}
	req := []byte{3, 0, 0, 0, 0, 0, 0, 64, 0, 32}
	if _, err := c.Write(append(pf, req...)); err != nil {
		t.Fatal(err)
	}
	upd := make([]byte, 16+64*32*4)
	if _, err := io.ReadFull(c, upd); err != nil {
		t.Fatal(err)
	}
	px := upd[16:]
	if !bytes.Equal(px[0:4], []byte{255, 0, 0, 0}) { // red test square at (0,0), red in the low byte
		t.Fatalf("pixel (0,0) = % x", px[0:4])
	}
	if !bytes.Equal(px[4*20:4*20+4], []byte{0, 255, 0, 0}) { // green at (20,0)
		t.Fatalf("pixel (20,0) = % x", px[80:84])
	}
}

// FuzzServerHandshake feeds arbitrary client bytes to the server handshake and
// message loop: it must end with an error or EOF, never panic or hang.
func FuzzServerHandshake(f *testing.F) {
	f.Add([]byte("RFB 003.008\n\x01\x01\x03\x00\x00\x00\x00\x00\x00\x10\x00\x10"))
	f.Add([]byte("RFB 003.003\n\x02"))
	f.Add([]byte("RFB 003.008\n\x01\x01\x06\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &Server{Mode: ModeStream, UpdateBytes: 64}
		c := &conn{srv: s, br: bufio.NewReader(bytes.NewReader(in)), w: 4, h: 4, pf: DefaultPixelFormat, c: discardConn{}}
		if err := Handshake(io.Discard, c.br, 4, 4, "f"); err != nil {
			return
		}
		_ = c.loop()
	})
}

// discardConn is a net.Conn whose writes go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
