package engine

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// wire is what the relay reads plaintext from and writes plaintext to on one
// side of a console: the gnet.Conn itself for a plain socket (the zero-copy
// path, unchanged), a *tlsWire once the socket speaks TLS. Its methods mean
// what gnet.Conn's mean. Pausing reads, drain notifications, outbound
// accounting and closing stay on the gnet.Conn: they are about the socket,
// whose outbound buffer holds the ciphertext.
type wire interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	InboundBuffered() int
	Write(p []byte) (int, error)
	Writev(bs [][]byte) (int, error)
}

// TLS layer bounds.
const (
	// tlsPlainBuf is the plaintext a TLS socket decrypts ahead of the relay:
	// four full records. A session holds the buffer only while it is not
	// empty (pooled otherwise), so an idle TLS console holds none.
	tlsPlainBuf = 64 << 10
	// tlsSealChunk is the most plaintext sealed before the records go to the
	// socket: it bounds the per-loop ciphertext buffer when a large response
	// (a static file) is written.
	tlsSealChunk = 64 << 10
	// tlsRecordPlain is TLS's largest record payload (RFC 8446 section 5.1).
	tlsRecordPlain = 16 << 10
	// tlsHandshakeIn caps the ciphertext a peer may send while its handshake
	// runs on a worker (its flights, and the request head that may follow
	// Finished). Over it the handshake fails: no handshake needs that much.
	tlsHandshakeIn = 64 << 10
)

var plainPool = sync.Pool{New: func() any { b := make([]byte, tlsPlainBuf); return &b }}

// tlsWire is one TLS socket of a session, browser (server side) or console
// (client side). The handshake runs on a worker goroutine over transport,
// which the loop feeds with the socket's bytes; once it is done the loop owns
// everything, and records are decrypted and sealed on the loop, with
// transport reading straight from the socket's inbound buffer.
//
// Copies: ciphertext from gnet's read buffer into crypto/tls's record buffer
// (crypto/tls reads records through an io.Reader and decrypts them in its
// own buffer); plaintext from there into pt, where frames are parsed and
// unmasked in place; sealed records into the loop's out buffer, sent with
// one write. A frame header and the start of its payload are staged into
// one record (see Writev).
type tlsWire struct {
	raw gnet.Conn
	ls  *loopState
	tc  *tls.Conn
	tr  *tlsTransport
	// place is the client's place for a browser handshake
	// (limiter.admitTLS), held until the handshake ends; nil otherwise.
	place *limitEntry

	pt      *[]byte // decrypted bytes not yet used, pt[r:w]; nil when empty
	r, w    int
	failed  bool  // a record error, or the socket failed under a write: no more TLS I/O
	dropped bool  // the socket closed: a handshake result that comes back is ignored
	rerr    error // the read side's end (close_notify, a record error), once the records before it are used
	// reportDropped: the handshake result is reported even after the socket
	// closed (VeNCrypt: whether TLS was up tells why the console closed).
	reportDropped bool

	// rl is the relay's own TLS 1.3 record layer once it has taken over
	// from crypto/tls (tlstakeover.go); tc is nil then. pend holds
	// ciphertext that arrived during the handshake, read before the socket.
	rl   *recordLayer
	pend []byte
	cn   string // the verified peer certificate's common name, kept at takeover
}

func newTLSWire(raw gnet.Conn, ls *loopState) *tlsWire {
	w := &tlsWire{raw: raw, ls: ls}
	w.tr = &tlsTransport{w: w, wake: make(chan struct{}, 1), local: raw.LocalAddr(), remote: raw.RemoteAddr()}
	return w
}

// loopTLS is a loop's scratch for its TLS sockets, used only inside one call
// on the loop: the records sealed by one write, sent with one socket write
// (bounded by tlsSealChunk plus a frame's worth, see Writev), and the
// staging record of Writev.
type loopTLS struct {
	out   []byte
	stage []byte
}

func (l *loopTLS) stageBuf() []byte {
	if l.stage == nil {
		l.stage = make([]byte, 0, tlsRecordPlain)
	}
	return l.stage[:0]
}

// Peek returns up to n decrypted bytes (all of them when n <= 0).
func (w *tlsWire) Peek(n int) ([]byte, error) {
	avail := w.w - w.r
	switch {
	case avail == 0:
		return nil, nil
	case n <= 0:
		return (*w.pt)[w.r:w.w], nil
	case n > avail:
		return nil, io.ErrShortBuffer
	}
	return (*w.pt)[w.r : w.r+n], nil
}

// Discard drops n decrypted bytes (all of them when n <= 0 or beyond).
func (w *tlsWire) Discard(n int) (int, error) {
	avail := w.w - w.r
	if n <= 0 || n >= avail {
		w.r, w.w = 0, 0
		return avail, nil
	}
	w.r += n
	return n, nil
}

// InboundBuffered returns the decrypted bytes waiting.
func (w *tlsWire) InboundBuffered() int { return w.w - w.r }

// Write seals p and writes the records to the socket, tlsSealChunk at a
// time. An error means the socket failed (and is closed) or TLS did.
func (w *tlsWire) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		k := min(len(p), tlsSealChunk)
		if err := w.seal(p[:k:k]); err != nil {
			return done, err
		}
		if err := w.flush(); err != nil {
			return done, err
		}
		p, done = p[k:], done+k
	}
	return done, nil
}

// Writev seals bs as one stream. The relay's writes are a frame header and
// its payload: the header and the first bytes of the payload are staged
// (copied) into one full record, so a frame does not cost a record of its
// own for a header of a few bytes.
func (w *tlsWire) Writev(bs [][]byte) (int, error) {
	stage := w.ls.tls.stageBuf()
	done := 0
	for _, b := range bs {
		done += len(b)
		if k := min(len(b), tlsRecordPlain-len(stage)); k > 0 {
			stage = append(stage, b[:k]...)
			b = b[k:]
		}
		if len(b) == 0 {
			continue
		}
		if err := w.seal(stage); err != nil {
			return 0, err
		}
		stage = stage[:0]
		for len(b) > 0 {
			k := min(len(b), tlsSealChunk)
			if err := w.seal(b[:k]); err != nil {
				return 0, err
			}
			if len(w.ls.tls.out) >= tlsSealChunk {
				if err := w.flush(); err != nil {
					return 0, err
				}
			}
			b = b[k:]
		}
	}
	if len(stage) > 0 {
		if err := w.seal(stage); err != nil {
			return 0, err
		}
	}
	return done, w.flush()
}

// seal encrypts p into the loop's out buffer. With the relay's record layer
// the bytes of p past its end, up to its capacity, must be the loop's own
// (Writev's callers pass the loop's read buffers and the session's): one of
// them is borrowed for the record's inner type while it is sealed.
func (w *tlsWire) seal(p []byte) error {
	if w.failed {
		return net.ErrClosed
	}
	if w.rl != nil {
		if w.rl.closed {
			return net.ErrClosed
		}
		w.ls.tls.out = w.rl.sealData(w.ls.tls.out, p)
		return nil
	}
	_, err := w.tc.Write(p)
	if err != nil {
		w.failed = true
	}
	return err
}

// flush writes the loop's out buffer to the socket. A failed write closes
// the socket inside the call (gnet), so nothing is done with TLS after it.
func (w *tlsWire) flush() error {
	out := w.ls.tls.out
	if len(out) == 0 {
		return nil
	}
	w.ls.tls.out = out[:0]
	if _, err := w.raw.Write(out); err != nil {
		w.failed = true
		return err
	}
	return nil
}

// fill decrypts what the socket has into pt, until pt is full or no whole
// record is left; records the peer needs answered (a KeyUpdate, an alert)
// are flushed. It reports whether it decrypted anything. The end of the
// stream (the peer's close_notify: io.EOF) or a record error is reported
// only by a call that decrypts nothing, so that the records before it are
// used first.
func (w *tlsWire) fill() (bool, error) {
	if w.rerr != nil {
		return false, w.rerr
	}
	if w.failed {
		return false, net.ErrClosed
	}
	if w.pt == nil {
		w.pt = plainPool.Get().(*[]byte)
	} else if w.r > 0 {
		w.w = copy(*w.pt, (*w.pt)[w.r:w.w])
		w.r = 0
	}
	got := false
	if w.rl != nil {
		got = w.openRecords()
	}
	for w.rl == nil && w.w < len(*w.pt) {
		n, err := w.tc.Read((*w.pt)[w.w:])
		w.w += n
		got = got || n > 0
		if err != nil {
			if !isWouldBlock(err) {
				w.rerr = err
			}
			break
		}
	}
	err := w.flush()
	w.release()
	switch {
	case err != nil:
		return got, err
	case w.rerr != nil && !got:
		return false, w.rerr
	}
	return got, nil
}

// peerCN returns the common name of the peer's verified certificate, or ""
// when it sent none or none was verified.
func (w *tlsWire) peerCN() string {
	if w.tc == nil {
		return w.cn
	}
	return connCN(w.tc.ConnectionState())
}

func connCN(cs tls.ConnectionState) string {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

// release gives pt back to the pool when it holds nothing.
func (w *tlsWire) release() {
	if w.pt != nil && w.r == w.w {
		plainPool.Put(w.pt)
		w.pt, w.r, w.w = nil, 0, 0
	}
}

// closed drops what the wire holds when its socket has closed. It never
// calls into crypto/tls (which could be inside a call on this goroutine: a
// failed flush closes the socket nested).
func (w *tlsWire) closed() {
	w.failed, w.dropped = true, true
	w.r, w.w = 0, 0
	w.release()
	w.pend = nil
	if w.tr.keys != nil {
		w.tr.keys.forget(w.tr)
	}
	w.tr.Close()
}

// errWouldBlock is what the transport's Read returns on the loop when the
// socket has no more bytes: a net.Error whose Temporary() is true, which
// crypto/tls does not keep (conn.go, readRecordOrCCS: only errors that are
// not temporary are set sticky on the half-connection). A later Read, when
// more ciphertext has arrived, carries on with the partial record
// crypto/tls holds. TestTLSWouldBlockNotSticky pins this.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls transport: no ciphertext buffered" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

func isWouldBlock(err error) bool { _, ok := err.(wouldBlock); return ok }

// tlsTransport is the net.Conn crypto/tls runs over: its Read gives
// ciphertext that arrived on the socket, its Write takes sealed records.
// During the handshake (on a worker) the loop hands bytes over through in,
// and writes go back to the loop with Execute; once the loop has taken the
// handshake's result (onLoop), Read copies from the socket's inbound buffer
// and Write appends to the loop's out buffer.
type tlsTransport struct {
	w *tlsWire

	mu     sync.Mutex
	in     []byte // ciphertext the loop handed over, not read yet (≤ tlsHandshakeIn)
	total  int    // bytes handed over during the handshake
	closed bool
	wake   chan struct{} // one token: in grew or the transport closed

	local, remote net.Addr // taken on the loop: gnet's may change at close

	// onLoop is set on the loop when the handshake's result arrives, after
	// the worker has returned from the handshake (Execute orders the two).
	onLoop bool

	// What the record layer's takeover needs (tlstakeover.go), guarded by
	// mu: the ClientHello's first bytes (its random), the records
	// crypto/tls wrote, the traffic secrets it logged, and where the
	// worker's reads stand in the record stream (hdr, left): a read never
	// goes past the end of a record, so that crypto/tls holds no bytes
	// after the handshake's last record.
	head     []byte
	keys     *tlsKeyLog
	sent     [][]byte
	sentLen  int
	cts, sts []byte
	hdr      []byte
	left     int
}

// hand passes ciphertext read on the loop to the handshake worker. It
// reports false when the peer has sent more than tlsHandshakeIn.
func (t *tlsTransport) hand(b []byte) bool {
	t.mu.Lock()
	t.total += len(b)
	ok := t.total <= tlsHandshakeIn
	if ok {
		t.in = append(t.in, b...)
		if t.keys != nil && len(t.head) < clientRandomEnd {
			t.head = append(t.head, b[:min(len(b), clientRandomEnd-len(t.head))]...)
			if len(t.head) == clientRandomEnd {
				t.keys.register(t)
			}
		}
	}
	t.mu.Unlock()
	t.signal()
	return ok
}

func (t *tlsTransport) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Read gives crypto/tls ciphertext: on the worker it waits for the loop to
// hand some over (or for Close: the handshake's deadline or the session's
// end); on the loop it never waits (errWouldBlock).
func (t *tlsTransport) Read(p []byte) (int, error) {
	if t.onLoop {
		if len(t.in) > 0 { // left over from the handshake: it comes first
			n := copy(p, t.in)
			t.in = t.in[n:]
			if len(t.in) == 0 {
				t.in = nil
			}
			return n, nil
		}
		n, _ := t.w.raw.Read(p)
		if n == 0 {
			return 0, errWouldBlock
		}
		return n, nil
	}
	for {
		t.mu.Lock()
		switch {
		case len(t.in) > 0:
			n := copy(p[:t.recordBound(len(p))], t.in)
			t.advance(t.in[:n])
			t.in = t.in[n:]
			if len(t.in) == 0 {
				t.in = nil // an idle console keeps no handshake bytes
			}
			t.mu.Unlock()
			return n, nil
		case t.closed:
			t.mu.Unlock()
			return 0, net.ErrClosed
		}
		t.mu.Unlock()
		<-t.wake
	}
}

// Write takes sealed records: on the loop into the loop's out buffer (the
// wire flushes it), from the worker to the loop, which writes them if the
// session is still in its handshake.
func (t *tlsTransport) Write(p []byte) (int, error) {
	if t.onLoop {
		t.w.ls.tls.out = append(t.w.ls.tls.out, p...)
		return len(p), nil
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	b := append([]byte(nil), p...)
	if t.keys != nil {
		t.mu.Lock()
		t.sentLen += len(b)
		if t.sentLen <= tlsHandshakeIn {
			t.sent = append(t.sent, b)
		}
		t.mu.Unlock()
	}
	w := t.w
	err := w.raw.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if !closed {
			_, _ = w.raw.Write(b) // a failure closes the socket; the session ends there
		}
		return nil
	}))
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends a handshake in progress (crypto/tls calls it when the
// handshake's context ends). It never closes the socket: the session does.
func (t *tlsTransport) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.signal()
	return nil
}

// LocalAddr and RemoteAddr are the socket's. Deadlines are not set on the
// transport: the handshake's is its context, the data phase never waits.
func (t *tlsTransport) LocalAddr() net.Addr              { return t.local }
func (t *tlsTransport) RemoteAddr() net.Addr             { return t.remote }
func (t *tlsTransport) SetDeadline(time.Time) error      { return nil }
func (t *tlsTransport) SetReadDeadline(time.Time) error  { return nil }
func (t *tlsTransport) SetWriteDeadline(time.Time) error { return nil }
