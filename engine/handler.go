package engine

import (
	"errors"
	"io"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/wsframe"
)

// handler is the gnet EventHandler. Every callback runs on the loop that owns
// the connection; both sockets of a session are on the same loop. Each socket's
// context is its *session; which side a callback is for is told by comparing
// the connection with session.browser.
type handler struct {
	gnet.BuiltinEventEngine
	srv *Server
}

// OnOpen runs for a browser socket handed over by the accept loop, and for a
// console socket once its connect from the loop has completed (dial.go).
func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s, ok := c.Context().(*session)
	if !ok {
		return nil, gnet.Close
	}
	if s.browser == nil {
		s.openBrowser(c)
		return nil, gnet.None
	}
	return nil, s.openConsole(c)
}

// OnTraffic runs when a socket has bytes to read (and, from the vncrelay gnet
// patch, never while its reads are paused).
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	s, ok := c.Context().(*session)
	if !ok {
		return gnet.Close
	}
	if c == s.browser {
		return s.fromBrowser()
	}
	return s.fromConsole(c)
}

// OnClose runs when a socket closes, for any reason, possibly nested inside a
// callback of the other socket (a failed write closes inside the write).
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	s, ok := c.Context().(*session)
	if !ok {
		return gnet.None
	}
	if c == s.browser {
		s.browserClosed(err)
	} else {
		s.consoleClosed(c, err)
	}
	return gnet.None
}

// OnDrain runs when a socket's outbound buffer has fallen to the mark armed
// with NotifyDrain: a paused sender may resume, or a close frame has left.
func (h *handler) OnDrain(c gnet.Conn) {
	s, ok := c.Context().(*session)
	if !ok {
		return
	}
	if c != s.browser && c != s.console && s.loop.lingerDrained(c) {
		return // a detached console has flushed (consoleflush.go)
	}
	s.drained(c)
}

// openBrowser starts a session on its loop.
func (s *session) openBrowser(c gnet.Conn) {
	s.browser, s.bw = c, c
	s.loop = s.srv.loopFor(c)
	s.op = s.loop.takeOpen()
	s.startClient()
	s.loop.add(s)
	s.loop.now = time.Now().UnixNano()
	s.deadline = s.loop.now + int64(s.srv.cfg.HandshakeTimeout)
	s.state = stateHandshake
}

// browserClosed ends the session: the browser socket is gone.
func (s *session) browserClosed(err error) {
	if s.state == stateClosed {
		return
	}
	prev := s.state
	s.state = stateClosed
	if err != nil || !s.closeSent {
		s.setReason(ReasonBrowserGone)
	}
	s.releaseConsole()
	s.dropPipe() // what the browser did not take is lost with it (splice.go)
	if w := s.btls(); w != nil {
		s.releaseTLSPlace()
		w.closed()
	}
	s.releaseLimits()
	s.loop.remove(s)
	s.releaseOpen() // the request head back to its pool, the token dropped
	st := &s.srv.stats
	st.connections.Add(-1)
	if prev.pending() {
		st.pending.Add(-1)
	}
	st.closed[s.reason].Add(1)
	if s.relayed {
		if s.srv.revoke != nil {
			s.srv.revoke.remove(s)
		}
		s.srv.stats.consoles.Add(-1)
		s.logClose()
	}
}

// consoleClosed handles the console socket closing: at EOF everything it sent
// has been forwarded (it is read before the close), so the browser gets a
// normal close; after an error, 1011.
func (s *session) consoleClosed(c gnet.Conn, err error) {
	if c != s.console {
		// A console enrolled for a session that had already ended, or one
		// lingering to flush that its peer closed first.
		s.loop.forgetLinger(c)
		return
	}
	s.console = nil
	if s.state == stateConnecting { // its connect(2) failed (dial.go)
		s.apply(s.connectFailed(err))
		return
	}
	if w := s.ctls(); w != nil {
		w.closed()
	}
	if s.state == stateConsoleSetup {
		if s.inVeNCrypt() { // vencrypt.go: QEMU refuses a client certificate so
			s.vencryptClosed()
			return
		}
		s.srv.log.Warn("console closed during its handshake", "client", s.logClient(), "target", s.target().String(),
			"token_mask", s.tokenMask, "err", err)
		refusal := errConsoleGone
		if w := s.ctls(); w != nil && !w.tr.onLoop {
			refusal = errConsoleTLS // it closed on our TLS handshake (its alert, or ours)
		}
		s.apply(s.refuse(refusal, ReasonRefused))
		return
	}
	if s.state != stateRelaying {
		return
	}
	if err == nil || errors.Is(err, io.EOF) {
		s.closeWith(wsframe.CloseNormal, "console closed", ReasonConsoleClosed)
		return
	}
	s.closeWith(wsframe.CloseInternalError, "console connection failed", ReasonConsoleError)
}

// closeConsole closes the console socket now, if it is open.
func (s *session) closeConsole() {
	if con := s.console; con != nil {
		_ = con.EventLoop().Close(con) // OnClose(console) runs nested and clears s.console
	}
}

// closeBrowser closes the browser socket now; OnClose ends the session.
func (s *session) closeBrowser() {
	_ = s.browser.EventLoop().Close(s.browser)
}
