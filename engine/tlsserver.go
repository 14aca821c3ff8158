package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/wsframe"
)

// TLSStats are the TLS layer's counters (Stats.TLS).
type TLSStats struct {
	Handshakes        uint64 // TLS handshakes completed, browsers' and consoles'
	HandshakeFailures uint64 // TLS handshakes failed, timed out, or refused for want of a slot
	// RecordLayer counts browsers' TLS 1.3 connections the relay's own
	// record layer took over from crypto/tls after the handshake
	// (tlstakeover.go); the others stay with crypto/tls.
	RecordLayer uint64
}

// errTLSRequired refuses a plain request on a port that takes TLS only
// (websockify's --ssl-only). It is a head alone: the request was not read.
var errTLSRequired = &wsframe.HTTPError{Status: http.StatusBadRequest,
	Reason: "TLS required: this port takes https and wss only"}

// First bytes of a TLS client: a record of type handshake (RFC 8446 section
// 5.1, ContentType 22), or the high bit of an SSLv2-style ClientHello's
// length, which websockify also takes as TLS (crypto/tls then refuses it
// with an alert).
const (
	tlsRecordHandshake = 0x16
	sslv2HelloBit      = 0x80
)

// isTLSStart reports whether a connection's first byte starts a TLS
// handshake. One byte is all it reads (websockify peeks the same byte).
func isTLSStart(b byte) bool { return b == tlsRecordHandshake || b == sslv2HelloBit }

// firstBytes is the entry point for the first bytes of a browser
// connection on a server with TLS configured: a TLS handshake starts TLS,
// anything else is plain HTTP, refused under TLSOnly. A step that comes
// before the first bytes (a PROXY protocol header) goes in front of this
// call.
func (s *session) firstBytes() gnet.Action {
	b, _ := s.browser.Peek(1)
	switch {
	case len(b) == 0:
		return gnet.None
	case isTLSStart(b[0]):
		return s.startBrowserTLS()
	case s.srv.cfg.TLSOnly:
		return s.refuse(errTLSRequired, ReasonRefused)
	}
	return s.browserInput()
}

// startBrowserTLS runs the server handshake on a worker; the loop hands it
// the browser's bytes until it is done (browserTLSDone).
func (s *session) startBrowserTLS() gnet.Action {
	var place *limitEntry
	if most := s.srv.cfg.MaxTLSHandshakesPerClient; most > 0 && (s.forwarded || !s.clientIP().IsLoopback()) {
		if place = s.srv.limits.admitTLS(s.clientIP(), s.loop.now, int32(most)); place == nil {
			s.srv.stats.tlsFailures.Add(1)
			s.srv.log.Warn("TLS handshake refused: too many from this client", "client", s.logClient(), "max", most)
			s.setReason(ReasonTLS)
			return gnet.Close // no TLS yet to answer in
		}
	}
	w := newTLSWire(s.browser, s.loop)
	w.place = place
	w.tr.keys = &s.srv.tlsKeys
	w.tc = tls.Server(w.tr, s.srv.tlsKeys.config(s.srv.cfg.TLS))
	timeout := s.srv.cfg.TLSHandshakeTimeout
	s.runTLSHandshake(w, timeout, s.browserTLSDone)
	s.bw = w // s.btls() from now on
	s.state = stateTLSHandshake
	s.deadline = s.loop.now + int64(timeout)
	return s.handTLS(w, s.browser)
}

// handTLS passes the socket's bytes to a handshake in progress.
func (s *session) handTLS(w *tlsWire, c gnet.Conn) gnet.Action {
	b, _ := c.Peek(-1)
	ok := w.tr.hand(b)
	_, _ = c.Discard(-1)
	if ok {
		return gnet.None
	}
	s.srv.log.Info("TLS handshake refused: peer sent too much during it", "client", s.logClient())
	w.tr.Close()
	if c == s.browser {
		s.setReason(ReasonTLS)
		return gnet.Close
	}
	return gnet.None // the console's handshake fails on the worker and reports
}

// runTLSHandshake runs w's handshake on a goroutine of its own, under
// timeout: it waits for one of MaxTLSHandshakes places (in arrival order;
// it gives up when the socket closes or the time is out), runs the
// handshake holding it, and calls done on the loop with the result unless
// the socket has closed meanwhile.
func (s *session) runTLSHandshake(w *tlsWire, timeout time.Duration, done func(error)) {
	srv := s.srv
	srv.workers.Add(1)
	go func() {
		defer srv.workers.Done()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := srv.tlsPlace(ctx, w.tr)
		if err == nil {
			err = w.tc.HandshakeContext(ctx)
			<-srv.tlsSlots
			srv.handshakeEnded()
		}
		cancel()
		_ = w.raw.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			if w.dropped && !w.reportDropped {
				// The socket closed meanwhile. A console may close on the
				// relay's own alert (a certificate it does not trust): say why.
				if err != nil && w == s.ctls() && !errors.Is(err, net.ErrClosed) {
					s.srv.log.Warn("console TLS handshake failed", "client", s.logClient(), "target", s.target().String(),
						"token_mask", s.tokenMask, "err", err)
				}
				return nil
			}
			w.tr.onLoop = true // the worker is done with w: the loop owns it now
			done(err)
			return nil
		}))
	}()
}

// tlsPlace waits for one of MaxTLSHandshakes places: until one is free
// (waiters are served in arrival order), ctx ends, or the transport closes
// (the socket did: the wait ends at once instead of at the deadline).
func (srv *Server) tlsPlace(ctx context.Context, t *tlsTransport) error {
	for {
		select {
		case srv.tlsSlots <- struct{}{}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.wake: // bytes came, or the transport closed; Read looks at the buffer before it waits
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if closed {
				return net.ErrClosed
			}
		}
	}
}

// releaseTLSPlace gives back the client's place for a browser handshake.
func (s *session) releaseTLSPlace() {
	if w := s.btls(); w != nil && w.place != nil {
		s.srv.limits.releaseTLS(w.place, s.loop.now)
		w.place = nil
	}
}

// browserTLSDone takes the browser's handshake result on the loop. Success
// moves on to the request head, reading at once what has arrived: the
// request often rides with the client's Finished.
func (s *session) browserTLSDone(err error) {
	if s.state != stateTLSHandshake {
		return
	}
	s.releaseTLSPlace()
	if err != nil {
		s.srv.stats.tlsFailures.Add(1)
		why := ReasonTLS
		if errors.Is(err, context.DeadlineExceeded) {
			why = ReasonHandshakeTimeout
		}
		s.srv.log.Info("TLS handshake failed", "client", s.logClient(), "err", err)
		s.setReason(why)
		s.closeBrowser()
		return
	}
	s.srv.stats.tlsHandshakes.Add(1)
	if s.btls().takeOver() {
		s.srv.stats.tlsRecordLayer.Add(1)
	}
	s.state = stateHandshake
	s.deadline = s.loop.now + int64(s.srv.cfg.HandshakeTimeout)
	s.apply(s.fromBrowser())
}

// closeNotify ends the browser's TLS stream once the relay has written its
// last bytes (a close frame, a refusal): the close_notify alert is queued
// behind them, so the flush before the socket closes carries it too, and the
// browser sees a clean end of TLS instead of a truncation.
func (s *session) closeNotify() {
	w := s.btls()
	if w == nil || s.state == stateTLSHandshake || s.state == stateClosed || w.failed || !w.tr.onLoop {
		return
	}
	if w.rl != nil {
		if err := w.closeNotifyRL(); err == nil {
			_ = w.flush()
		}
		return
	}
	if err := w.tc.CloseWrite(); err == nil {
		_ = w.flush()
	}
}

// fromBrowserTLS takes the browser's ciphertext: to the handshake worker
// while it runs, else decrypted and run through browserInput until no whole
// record is left or the session stops taking input (while a worker
// resolves the token, the plaintext waits in the wire, the rest in the
// socket; startRelay comes back for it).
func (s *session) fromBrowserTLS() gnet.Action {
	w := s.btls()
	if s.state == stateTLSHandshake {
		return s.handTLS(w, s.browser)
	}
	for s.state == stateHandshake || s.state == stateRelaying || s.state == stateClosing {
		got, err := w.fill()
		if err != nil {
			if s.state == stateClosed {
				return gnet.None
			}
			s.srv.log.Debug("TLS read from browser ended", "client", s.logClient(), "err", err)
			s.setReason(ReasonBrowserGone)
			return gnet.Close
		}
		before := w.InboundBuffered()
		if before == 0 {
			break
		}
		if act := s.browserInput(); act != gnet.None || s.state == stateClosed {
			return act
		}
		if !got && w.InboundBuffered() == before {
			break
		}
	}
	if s.state == stateClosed {
		return gnet.None
	}
	w.release()
	return gnet.None
}
