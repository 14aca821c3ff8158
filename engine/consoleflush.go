package engine

import "github.com/panjf2000/gnet/v2"

// A console whose browser has gone may still hold, in its socket's outbound
// buffer, bytes the browser sent before its close: gnet drops a socket's
// unflushed bytes when it is closed, so the console socket is detached from
// its session and lingers, reads paused, until the buffer drains or
// CloseTimeout passes. The session ends at once; the lingering socket is
// owned by the loop (loopState.lingering), one descriptor for at most
// CloseTimeout.

// lingering is a console socket waiting for its outbound bytes to leave.
type lingering struct {
	c        gnet.Conn
	deadline int64 // unix ns
}

// releaseConsole closes the console now if nothing waits to be written to
// it, else detaches it to linger until it has been flushed.
func (s *session) releaseConsole() {
	con := s.console
	if con == nil || con.OutboundBuffered() == 0 {
		s.closeConsole()
		return
	}
	s.console = nil // its OnClose, when it comes, finds no session to end
	if s.ctls() != nil {
		// The ciphertext is in the socket's buffer already; the TLS state
		// is not needed to send it.
		s.ctls().closed()
	}
	_ = con.PauseRead()
	ls := s.loop
	ls.lingering = append(ls.lingering, lingering{c: con, deadline: ls.now + int64(s.srv.cfg.CloseTimeout)})
	con.NotifyDrain(0)
}

// lingerDrained closes a lingering console once its buffer has drained; it
// reports whether c was one.
func (ls *loopState) lingerDrained(c gnet.Conn) bool {
	for i, l := range ls.lingering {
		if l.c == c {
			ls.dropLinger(i)
			_ = c.EventLoop().Close(c)
			return true
		}
	}
	return false
}

// forgetLinger drops c from the lingering consoles, if it is one: it closed
// by itself.
func (ls *loopState) forgetLinger(c gnet.Conn) {
	for i, l := range ls.lingering {
		if l.c == c {
			ls.dropLinger(i)
			return
		}
	}
}

// sweepLingering closes the lingering consoles whose deadline has passed:
// their bytes are lost, as the console did not take them in time.
func (ls *loopState) sweepLingering(now int64) {
	for i := len(ls.lingering) - 1; i >= 0; i-- {
		if l := ls.lingering[i]; now > l.deadline {
			ls.dropLinger(i)
			_ = l.c.EventLoop().Close(l.c)
		}
	}
}

func (ls *loopState) dropLinger(i int) {
	last := len(ls.lingering) - 1
	ls.lingering[i] = ls.lingering[last]
	ls.lingering[last] = lingering{}
	ls.lingering = ls.lingering[:last]
}
