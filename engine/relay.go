package engine

import (
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/wsframe"
)

// fromBrowser handles bytes from the browser: through the TLS layer when
// there is one (tlsserver.go), else as they are. A connection's first bytes
// may be a PROXY header (clientaddr.go), then, when TLS is configured, a TLS
// ClientHello or a plain request (firstBytes); both read the raw socket.
func (s *session) fromBrowser() gnet.Action {
	if s.pauseEarlyBrowser() {
		return gnet.None
	}
	if s.btls() != nil {
		return s.fromBrowserTLS()
	}
	if s.state == stateHandshake && s.op.head == nil {
		if act, next := s.proxyHeader(); !next {
			return act
		}
		if s.srv.cfg.TLS != nil {
			return s.firstBytes()
		}
	}
	return s.browserInput()
}

// browserInput handles the browser's plaintext according to the session
// state.
func (s *session) browserInput() gnet.Action {
	switch s.state {
	case stateHandshake:
		act := s.handshake()
		if act == gnet.None {
			s.pauseEarlyBrowser() // bytes that followed the request
		}
		return act
	case stateRelaying, stateClosing:
		act := s.frames()
		s.afterBrowserInput()
		return act
	case stateConnecting, stateConsoleSetup:
		return gnet.None // reads are paused (pauseEarlyBrowser); bytes already read wait in the buffer
	}
	_, _ = s.bw.Discard(-1)
	return gnet.None
}

// frames parses browser frames where they lie in the read buffer (unmasking
// in place) and writes data payloads straight to the console, a piece at a
// time as they arrive; the small payloads of frames that arrived together
// leave in one write (toConsole). Control frames are answered when whole. In
// stateClosing, payloads are dropped and only a close frame matters.
//
// Each Peek asks for no more than the next step can use, so that a partial
// header left from the previous read is the only thing gnet ever copies.
func (s *session) frames() gnet.Action {
	defer s.flushToConsole()
	c := s.bw
	for {
		avail := c.InboundBuffered()
		if avail == 0 {
			return gnet.None
		}
		b, _ := c.Peek(min(avail, s.stream.Want()))
		step, err := s.stream.Next(b)
		if err != nil {
			s.flushToConsole() // what came before the bad frame still goes
			return s.protocolError(err)
		}
		switch step.Kind {
		case wsframe.StepMore:
			return gnet.None
		case wsframe.StepData:
			if s.state == stateRelaying && s.rfbBrowser() != nil {
				s.flushToConsole()
				used, act := s.fromBrowserRFB(step.Payload)
				if act != gnet.None || s.state != stateRelaying {
					_, _ = c.Discard(step.N)
					return act
				}
				step.Payload = step.Payload[used:]
			}
			if s.console != nil && s.state == stateRelaying && len(step.Payload) > 0 {
				s.bytesIn += int64(step.N)
				s.lastActive = s.loop.now
				if rec := s.recorder(); rec != nil {
					rec.Record(s.loop.now, true, step.Payload)
				}
				s.toConsole(step.Payload, avail > step.N)
			}
		case wsframe.StepControl:
			s.flushToConsole() // a close frame closes the console: the data before it goes first
			if act := s.control(step.Op, step.Payload); act != gnet.None || s.state == stateClosed {
				return act
			}
		}
		if s.state == stateClosed {
			return gnet.None
		}
		_, _ = c.Discard(step.N)
	}
}

// consoleBatchMax bounds the loop's batch of browser → console payloads
// (toConsole): noVNC's key and pointer events are 6 to 10 bytes, and a read
// holds dozens of them when the pointer moves fast.
const consoleBatchMax = 8 << 10

// toConsole sends a data frame's payload (a piece of one) to the console.
// When more bytes follow it in the read, a small payload is copied into the
// loop's batch instead, and the batch leaves in one write with the last of
// them (or when frames returns): one system call, and one TCP segment to the
// hypervisor, instead of one per frame. Each write to a loopback or LAN
// console costs a segment, the console's wake-up and its ACK; noVNC sends an
// event per frame. A payload that does not fit what is left of the batch
// sends the batch first; one larger than the whole batch is then written as
// it lies in the read buffer. A failed write closes the console; OnClose
// handles it.
func (s *session) toConsole(p []byte, more bool) {
	b := &s.loop.batch
	if len(*b)+len(p) > consoleBatchMax {
		s.flushToConsole()
	}
	if len(p) <= consoleBatchMax && (more || len(*b) > 0) {
		if *b == nil {
			*b = make([]byte, 0, consoleBatchMax) // once per loop
		}
		s.loop.batched++
		*b = append(*b, p...)
		if !more {
			s.flushToConsole()
		}
		return
	}
	_, _ = s.cw.Write(p)
}

// flushToConsole writes the loop's batch to the session's console. The batch
// is empty whenever frames is not running: frames flushes it on every way
// out and before anything else can happen to the console (a control frame,
// which may close it; a protocol error, which does; the RFB security proxy,
// which takes the browser's bytes first).
func (s *session) flushToConsole() {
	b := &s.loop.batch
	if len(*b) == 0 {
		return
	}
	if s.console != nil && s.state == stateRelaying {
		_, _ = s.cw.Write(*b)
	}
	*b = (*b)[:0]
}

// control answers a whole control frame.
func (s *session) control(op wsframe.Opcode, payload []byte) gnet.Action {
	switch op {
	case wsframe.OpPing:
		if s.state == stateRelaying {
			s.writeFrame(wsframe.OpPong, payload)
		}
	case wsframe.OpPong:
		if x := s.ext; x != nil {
			x.awaitPong = false
		}
	case wsframe.OpClose:
		code, _, err := wsframe.ParseClosePayload(payload)
		if err != nil {
			return s.protocolError(err)
		}
		s.peerClosed = true
		if s.closeSent {
			return gnet.Close // the browser answered our close: done
		}
		s.setReason(ReasonBrowserClose)
		if code == wsframe.CloseNoStatus {
			return s.sendClose(nil) // echo an empty close
		}
		return s.sendClose(wsframe.AppendClosePayload(nil, code, ""))
	}
	return gnet.None
}

// writeFrame sends a small server frame (pong, close) to the browser.
func (s *session) writeFrame(op wsframe.Opcode, payload []byte) {
	var b [wsframe.MaxHeaderSize + 125]byte
	n := wsframe.PutHeader(b[:], true, op, len(payload))
	n += copy(b[n:], payload)
	s.spliceFlush() // the frame follows the console bytes in the pipe
	if s.state == stateClosed {
		return
	}
	_, _ = s.bw.Write(b[:n])
}

// protocolError closes the session with the code the violation calls for.
func (s *session) protocolError(err error) gnet.Action {
	var pe *wsframe.ProtocolError
	if !errors.As(err, &pe) {
		pe = &wsframe.ProtocolError{Code: wsframe.CloseProtocolError, Reason: "protocol error"}
	}
	why := ReasonProtocol
	switch pe.Code {
	case wsframe.CloseMessageTooBig:
		why = ReasonTooBig
	case wsframe.CloseUnsupportedData:
		why = ReasonTextFrame
	}
	if s.state == stateClosing {
		return gnet.Close // already closing: a broken answer ends it
	}
	s.setReason(why)
	return s.sendClose(wsframe.AppendClosePayload(nil, pe.Code, pe.Reason))
}

// closeWith closes a relaying session from outside a browser callback (the
// console closed, a timeout, shutdown).
func (s *session) closeWith(code wsframe.CloseCode, reason string, why Reason) {
	if s.state != stateRelaying {
		return
	}
	s.setReason(why)
	if s.sendClose(wsframe.AppendClosePayload(nil, code, reason)) == gnet.Close {
		s.closeBrowser()
	}
}

// sendClose writes a close frame with payload, closes the console and moves
// to stateClosing. The browser socket closes once the frame has left and,
// when we spoke first, the browser has answered or shut its side (RFC 6455
// section 7.1.1: the server closes the TCP connection first).
func (s *session) sendClose(payload []byte) gnet.Action {
	if s.closeSent {
		return gnet.None
	}
	if len(payload) >= 2 {
		s.closeCode = wsframe.CloseCode(uint16(payload[0])<<8 | uint16(payload[1]))
	}
	s.writeFrame(wsframe.OpClose, payload)
	s.closeSent = true
	s.closeNotify()
	s.releaseConsole() // what the browser sent before is still written to the console
	if s.state == stateClosed {
		return gnet.None // the write failed and closed the browser
	}
	s.state = stateClosing
	s.deadline = s.loop.now + int64(s.srv.cfg.CloseTimeout)
	if s.pausedByWho&pauseBrowser != 0 {
		s.pausedByWho &^= pauseBrowser
		_ = s.browser.ResumeRead() // read the browser's answer
	}
	if s.browser.OutboundBuffered() > 0 {
		s.browser.NotifyDrain(0)
		return gnet.None
	}
	return s.flushed()
}

// flushed runs in stateClosing once everything written to the browser has
// left: close now if the browser has already closed its side of the
// handshake, else shut our write side and wait for its answer.
func (s *session) flushed() gnet.Action {
	if s.peerClosed {
		return gnet.Close
	}
	if !s.halfClosed {
		s.halfClosed = true
		// A FIN after the close frame: the browser sees the end at once even if
		// it never answers, and no unread input turns our close into a reset
		// that could destroy the frame in flight.
		_ = unix.Shutdown(s.browser.Fd(), unix.SHUT_WR)
	}
	return gnet.None
}

// fromConsole sends what the console wrote to the browser as one binary frame:
// header and payload in one writev, straight from the read buffer. If the
// browser is slower than the console, the console's reads are paused until the
// browser's buffer drains to half of HighWater.
func (s *session) fromConsole(c gnet.Conn) gnet.Action {
	if c == s.console && s.ctls() != nil {
		return s.fromConsoleTLS(c) // tlsclient.go
	}
	return s.consoleInput(c)
}

// consoleInput handles the console's plaintext according to the session
// state.
func (s *session) consoleInput(c gnet.Conn) gnet.Action {
	switch {
	case c == s.console && s.state == stateConsoleSetup:
		return s.fromConsoleSetup(c)
	case c == s.console && s.rfbBrowser() != nil:
		return gnet.None // held until the browser's RFB handshake is done
	case c != s.console:
		_, _ = c.Discard(-1)
		return gnet.None
	case s.state != stateRelaying:
		_, _ = s.cw.Discard(-1)
		return gnet.None
	}
	buf, _ := s.cw.Peek(-1)
	n := len(buf)
	if n == 0 {
		return gnet.None
	}
	ls := s.loop
	hn := wsframe.PutHeader(ls.hdr[:], true, wsframe.OpBinary, n)
	ls.iov[0], ls.iov[1] = ls.hdr[:hn], buf
	_, _ = s.bw.Writev(ls.iov[:])
	ls.iov[0], ls.iov[1] = nil, nil
	if s.state == stateClosed {
		return gnet.None // the write failed: the browser is gone and so is c
	}
	if rec := s.recorder(); rec != nil {
		rec.Record(s.loop.now, false, buf)
	}
	_, _ = s.cw.Discard(n)
	s.bytesOut += int64(n)
	s.lastActive = s.loop.now
	s.predictSplice(c, n)
	if s.browser.OutboundBuffered() > s.srv.cfg.HighWater {
		s.pausedByWho |= pauseConsole
		s.srv.stats.pausesConsole.Add(1)
		_ = c.PauseRead()
		s.browser.NotifyDrain(s.srv.cfg.HighWater / 2)
	}
	return gnet.None
}

// drained resumes a paused sender, or finishes a close, when c's outbound
// buffer has drained.
func (s *session) drained(c gnet.Conn) {
	switch {
	case s.state == stateClosing && c == s.browser:
		if s.flushed() == gnet.Close {
			s.closeBrowser()
		}
	case s.state != stateRelaying:
	case c == s.browser && s.pausedByWho&pauseConsole != 0:
		s.pausedByWho &^= pauseConsole
		_ = s.console.ResumeRead()
	case c == s.console && s.pausedByWho&pauseBrowser != 0:
		s.pausedByWho &^= pauseBrowser
		_ = s.browser.ResumeRead()
	}
}

// afterBrowserInput pauses the browser's reads when the console is not taking
// its input (the other direction of backpressure).
func (s *session) afterBrowserInput() {
	if s.console == nil || s.state != stateRelaying {
		return
	}
	if s.console.OutboundBuffered() > s.srv.cfg.HighWater {
		s.pausedByWho |= pauseBrowser
		s.srv.stats.pausesBrowser.Add(1)
		_ = s.browser.PauseRead()
		s.console.NotifyDrain(s.srv.cfg.HighWater / 2)
	}
}

// logClose writes the one line a console gets when it ends.
func (s *session) logClose() {
	s.stopRecording()
	st := &s.srv.stats
	st.bytesIn.Add(uint64(s.bytesIn))
	st.bytesOut.Add(uint64(s.bytesOut))
	s.loop.closedIn += s.bytesIn
	s.loop.closedOut += s.bytesOut
	s.srv.log.Info("console closed", "client", s.logClient(), "target", s.target().String(), "token_mask", s.tokenMask,
		"bytes_in", s.bytesIn, "bytes_out", s.bytesOut, "duration", time.Duration(time.Now().UnixNano()-s.opened).Round(time.Millisecond),
		"code", uint16(s.closeCode), "reason", s.reason.String())
}
