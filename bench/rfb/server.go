package rfb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what a Server does after the handshake.
type Mode int

// Modes of a Server.
const (
	// ModeDraw answers update requests with a moving picture (the demo).
	ModeDraw Mode = iota
	// ModeStream answers each FramebufferUpdateRequest with one raw update of
	// UpdateBytes bytes of pixel data.
	ModeStream
	// ModeEcho writes back every byte the client sends after ServerInit.
	ModeEcho
)

// Version is the protocol version line the server sends and expects.
const Version = "RFB 003.008\n"

// Client-to-server message types (RFC 6143 section 7.5).
const (
	msgSetPixelFormat           = 0
	msgSetEncodings             = 2
	msgFramebufferUpdateRequest = 3
	msgKeyEvent                 = 4
	msgPointerEvent             = 5
	msgClientCutText            = 6
	maxCutText                  = 1 << 20
)

// KeyEvent is a key press or release received from a client.
type KeyEvent struct {
	Down bool
	Key  uint32 // X11 keysym
}

// Server is a fake RFB console.
type Server struct {
	Mode Mode
	// Width and Height of the framebuffer; zero means 320×200 (ModeDraw) or
	// the size UpdateBytes needs (ModeStream).
	Width, Height int
	// Name is the desktop name in ServerInit; "" means "vncrelay demo".
	Name string
	// UpdateBytes is the pixel payload of each ModeStream update; zero means 64 KiB.
	UpdateBytes int
	// FrameInterval is how long ModeDraw waits before answering an incremental
	// update request (the picture's frame rate); zero means 100 ms.
	FrameInterval time.Duration
	// Keys, if set, receives key events (dropped when full).
	Keys chan KeyEvent

	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	accepted atomic.Int64
	closed   atomic.Bool
}

// Listen starts serving on addr ("127.0.0.1:0" in tests) and returns at once.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("rfb listen %s: %w", addr, err)
	}
	s.ln = ln
	s.conns = make(map[net.Conn]struct{})
	s.wg.Add(1)
	go s.acceptLoop()
	return nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Accepted is the number of connections accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	s.closed.Store(true)
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.accepted.Add(1)
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.Serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// Serve runs the server side of one connection until it ends.
func (s *Server) Serve(c net.Conn) error {
	br := bufio.NewReader(c)
	w, h := s.size()
	if err := Handshake(c, br, w, h, s.name()); err != nil {
		return err
	}
	if s.Mode == ModeEcho {
		return echo(c, br)
	}
	sess := &conn{srv: s, c: c, br: br, w: w, h: h, pf: DefaultPixelFormat}
	return sess.loop()
}

func (s *Server) size() (int, int) {
	w, h := s.Width, s.Height
	if w > 0 && h > 0 {
		return w, h
	}
	if s.Mode == ModeStream {
		px := max(1, s.updateBytes()/4)
		w = min(px, 1024)
		return w, max(1, px/w)
	}
	return 320, 200
}

func (s *Server) updateBytes() int {
	if s.UpdateBytes > 0 {
		return s.UpdateBytes
	}
	return 64 << 10
}

func (s *Server) name() string {
	if s.Name != "" {
		return s.Name
	}
	return "vncrelay demo"
}

// Handshake runs the server side of the RFB 3.8 handshake on c: version,
// security type None, SecurityResult OK, ClientInit, ServerInit.
func Handshake(c io.Writer, br *bufio.Reader, width, height int, name string) error {
	if _, err := io.WriteString(c, Version); err != nil {
		return fmt.Errorf("rfb send version: %w", err)
	}
	var ver [12]byte
	if _, err := io.ReadFull(br, ver[:]); err != nil {
		return fmt.Errorf("rfb read version: %w", err)
	}
	if string(ver[:4]) != "RFB " {
		return fmt.Errorf("rfb: bad client version %q", ver[:])
	}
	if _, err := c.Write([]byte{1, 1}); err != nil { // one security type: None
		return fmt.Errorf("rfb send security types: %w", err)
	}
	sec, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("rfb read security type: %w", err)
	}
	if sec != 1 {
		return fmt.Errorf("rfb: client chose security type %d, want 1 (None)", sec)
	}
	if _, err := c.Write([]byte{0, 0, 0, 0}); err != nil { // SecurityResult OK
		return fmt.Errorf("rfb send security result: %w", err)
	}
	if _, err := br.ReadByte(); err != nil { // ClientInit shared flag
		return fmt.Errorf("rfb read client init: %w", err)
	}
	init := make([]byte, 0, 24+len(name))
	init = binary.BigEndian.AppendUint16(init, uint16(width))
	init = binary.BigEndian.AppendUint16(init, uint16(height))
	init = append(init, DefaultPixelFormat.bytes()...)
	init = binary.BigEndian.AppendUint32(init, uint32(len(name)))
	init = append(init, name...)
	if _, err := c.Write(init); err != nil {
		return fmt.Errorf("rfb send server init: %w", err)
	}
	return nil
}

// ClientHandshake runs the client side of the RFB 3.8 handshake (security
// None) and returns the framebuffer size from ServerInit.
func ClientHandshake(rw io.ReadWriter) (width, height int, name string, err error) {
	var ver [12]byte
	if _, err = io.ReadFull(rw, ver[:]); err != nil {
		return 0, 0, "", fmt.Errorf("rfb read version: %w", err)
	}
	if string(ver[:]) != Version {
		return 0, 0, "", fmt.Errorf("rfb: server version %q", ver[:])
	}
	if _, err = io.WriteString(rw, Version); err != nil {
		return 0, 0, "", err
	}
	var n [1]byte
	if _, err = io.ReadFull(rw, n[:]); err != nil || n[0] == 0 {
		return 0, 0, "", fmt.Errorf("rfb read security types: %v", err)
	}
	types := make([]byte, n[0])
	if _, err = io.ReadFull(rw, types); err != nil {
		return 0, 0, "", err
	}
	if _, err = rw.Write([]byte{1}); err != nil {
		return 0, 0, "", err
	}
	var res [4]byte
	if _, err = io.ReadFull(rw, res[:]); err != nil || binary.BigEndian.Uint32(res[:]) != 0 {
		return 0, 0, "", fmt.Errorf("rfb security result: %v", err)
	}
	if _, err = rw.Write([]byte{1}); err != nil { // shared
		return 0, 0, "", err
	}
	var si [24]byte
	if _, err = io.ReadFull(rw, si[:]); err != nil {
		return 0, 0, "", fmt.Errorf("rfb read server init: %w", err)
	}
	nameBuf := make([]byte, binary.BigEndian.Uint32(si[20:]))
	if _, err = io.ReadFull(rw, nameBuf); err != nil {
		return 0, 0, "", err
	}
	return int(binary.BigEndian.Uint16(si[0:])), int(binary.BigEndian.Uint16(si[2:])), string(nameBuf), nil
}

// echo writes back what it reads, through a small buffer. (br.WriteTo would
// reach TCPConn.WriteTo, which splices through a pipe: two more descriptors
// held by every idle console, which at thousands of consoles exhausts the
// descriptor limit of the process running them.)
func echo(w io.Writer, r io.Reader) error {
	buf := make([]byte, 4<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
