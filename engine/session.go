package engine

import (
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// session is one browser connection and, once dialed, its console. Both
// sockets are on the same event loop, whose goroutine owns every field below
// "Owned by the event loop".
//
// An idle console holds a session for as long as it is open, so the struct
// is kept small (sessionsize_test.go pins its size class): what only the
// open needs is in op, taken from the loop's free list and given back when
// the relay starts; what few consoles need (recording, token expiry,
// heartbeat) is in ext, allocated for those alone (sessionopen.go). The TLS
// layers are the wires themselves (btls, ctls).
type session struct {
	// Set at accept.
	srv    *Server
	opened int64 // unix ns when the connection was accepted

	// Owned by the event loop.
	loop     *loopState
	op       *sessionOpen  // the open's state, from openBrowser until the relay starts; nil after
	ext      *sessionExtra // --record, token expiry, --heartbeat; nil when none applies
	browser  gnet.Conn
	console  gnet.Conn
	deadline int64 // unix ns: handshake, connect or close deadline, by state

	// The plaintext of each side: browser and console themselves, or their
	// TLS layers (a *tlsWire: btls, ctls; tlswire.go).
	bw, cw wire

	tokenMask string // auth.Mask of the token: the token itself never leaves the worker
	// targetAddr is where the console is, for log lines (with targetUnix and
	// targetHoldsToken: consoleAddr's fields, kept flat to keep the struct
	// in its size class); "" before the dial.
	targetAddr string

	// Browser → console frames, parsed in place.
	stream wsframe.ClientStream

	// pipe holds console bytes on their way to the browser by splice while
	// the browser socket is full; nil otherwise (splice.go).
	pipe *splicePipe

	// Liveness and counts.
	lastActive int64 // unix ns of the last byte either way (loop clock)
	bytesIn    int64
	bytesOut   int64

	// Client address and limits (clientaddr.go, limits.go). The address
	// (the peer's, or forwarded by a trusted proxy) is kept as its 16 bytes
	// and a family, clientIP() its netip.Addr: a netip.Addr is 24 bytes.
	clientIP16 [16]byte
	clientSlot *limitEntry // the console slot held for the client's address
	// tokenSlot is written by the connect worker before it hands the
	// console's address to the loop; the loop owns it from claimTokenSlot on.
	tokenSlot *limitEntry

	idx         int32  // position in loop.sessions; -1 when not listed
	clientPort  uint16 // the client's port; 0 when a forwarding header gave no port (logClient)
	clientFam   uint8  // clientIP16 holds: 0 no address (not an IP socket), 4 IPv4 (its last 4 bytes), 6 IPv6
	closeCode   wsframe.CloseCode
	state       state
	reason      Reason
	pausedByWho uint8 // which side's reads we paused: pauseConsole, pauseBrowser
	relayed     bool  // reached stateRelaying: counted in Consoles, logged at close
	spliceNext  bool  // the next console read is predicted large enough to splice
	targetUnix  bool  // targetAddr is a unix socket path (else host:port over TCP)
	targetHolds bool  // targetAddr holds the token: masked in log lines
	closeSent   bool  // our close frame is written
	peerClosed  bool  // the browser's close frame was received
	halfClosed  bool  // our write side is shut down, waiting for the browser to close
	forwarded   bool  // the client's address came from a PROXY header or a trusted proxy's header
	clientBare  bool  // the client's address came without a port (X-Forwarded-For, Forwarded): logged bare
	tokenOwned  bool  // the loop claimed tokenSlot: released when the session ends
}

// consoleAddr is where a session's console is, for log lines and the status
// page (session.target): what the session keeps of its auth.Target once the
// console is dialed (auth.Target holds more, which only the console setup
// needs).
type consoleAddr struct {
	network, address string
	holdsToken       bool // the address holds the token: masked in String
}

// String returns the address as auth.Target.String shows it.
func (a consoleAddr) String() string {
	return auth.Target{Network: a.network, Address: a.address, AddressHoldsToken: a.holdsToken}.String()
}

// Which reads a session has paused for backpressure.
const (
	pauseConsole = 1 << iota // browser is slow: console reads paused
	pauseBrowser             // console is slow: browser reads paused
)

// newSession starts a session for a browser connection from peer (the
// address accept(2) gave).
func newSession(srv *Server, peer netip.AddrPort) *session {
	s := &session{srv: srv, clientPort: peer.Port(), opened: time.Now().UnixNano(), idx: -1,
		stream: wsframe.ClientStream{MaxMessage: srv.cfg.MaxMessageSize, MaxFragments: srv.cfg.MaxFragments}}
	s.setClientIP(peer.Addr())
	return s
}

// clientIP returns the client's address: the peer's, or forwarded by a
// trusted proxy; IPv4 as IPv4 (a dual-stack listener's IPv4 clients are
// logged as such); the zero Addr for a peer that is not an IP socket.
func (s *session) clientIP() netip.Addr {
	switch s.clientFam {
	case 4:
		return netip.AddrFrom4([4]byte(s.clientIP16[12:]))
	case 6:
		return netip.AddrFrom16(s.clientIP16)
	}
	return netip.Addr{}
}

// setClientIP records the client's address, unmapped; a zone is dropped
// (a client's address has none: accept(2)'s sockaddr, a PROXY header and
// a forwarding header carry none).
func (s *session) setClientIP(a netip.Addr) {
	a = a.Unmap()
	switch {
	case a.Is4():
		s.clientIP16, s.clientFam = a.As16(), 4
	case a.Is6():
		s.clientIP16, s.clientFam = a.As16(), 6
	default:
		s.clientIP16, s.clientFam = [16]byte{}, 0
	}
}

// target is where the console is, for log lines and the status page.
func (s *session) target() consoleAddr {
	network := "tcp"
	if s.targetUnix {
		network = "unix"
	}
	return consoleAddr{network: network, address: s.targetAddr, holdsToken: s.targetHolds}
}

// tick enforces the session's deadlines; the loop's sweep calls it.
func (s *session) tick(now int64) {
	cfg := &s.srv.cfg
	switch s.state {
	case stateHandshake:
		if now > s.deadline {
			s.apply(s.refuse(errHandshakeTimeout, ReasonHandshakeTimeout))
		}
	case stateTLSHandshake:
		if now > s.deadline { // the worker's context ends it too; no TLS to answer in
			s.setReason(ReasonHandshakeTimeout)
			s.closeBrowser()
		}
	case stateConnecting:
		// While a worker looks up, its context carries the connect deadline
		// and this is a guard in case its result cannot come back; the loop's
		// own connect is cut here.
		if s.op.dialing && now > s.deadline {
			s.apply(s.dialTimedOut())
		} else if now > s.deadline+int64(time.Second) {
			s.apply(s.refuse(errConnectTimeout, ReasonRefused))
		}
	case stateConsoleSetup:
		if now > s.deadline {
			s.srv.log.Warn("console handshake timed out", "client", s.logClient(), "target", s.target().String(),
				"token_mask", s.tokenMask)
			s.apply(s.refuse(errSetupTimeout, ReasonRefused))
		}
	case stateRelaying:
		x := s.ext
		if x == nil {
			x = &noExtra // no expiry, no heartbeat
		}
		switch {
		case x.expires != 0 && now > x.expires:
			s.closeWith(wsframe.ClosePolicyViolation, "console token expired", ReasonTokenExpired)
		case cfg.ConsoleIdleTimeout > 0 && now-s.lastActive > int64(cfg.ConsoleIdleTimeout):
			s.closeWith(wsframe.CloseNormal, "idle timeout", ReasonIdle)
		case x.awaitPong && s.pausedByWho&pauseBrowser == 0 && now-x.lastPing > int64(cfg.PongTimeout):
			s.closeWith(wsframe.ClosePolicyViolation, "no pong to heartbeat", ReasonPongTimeout)
		case cfg.Heartbeat > 0 && s.ext != nil && !x.awaitPong && now-x.lastPing >= int64(cfg.Heartbeat):
			s.ping(now)
		}
	case stateClosing:
		if now > s.deadline {
			s.setReason(ReasonCloseTimeout)
			s.closeBrowser()
		}
	}
}

// goingAway starts the close of the session for a server shutdown, or at
// the end of a handover (restart): 1012 then, 1001 otherwise.
func (s *session) goingAway(restart bool) {
	why := ReasonShutdown
	if restart {
		why = ReasonRestart
	}
	switch {
	case s.state == stateTLSHandshake:
		s.setReason(why)
		s.closeBrowser()
	case s.state == stateHandshake, s.state == stateConnecting, s.state == stateConsoleSetup:
		s.apply(s.refuse(errShuttingDown, why))
	case s.state == stateRelaying && restart:
		s.closeWith(wsframe.CloseServiceRestart, "service restart", why)
	case s.state == stateRelaying:
		s.closeWith(wsframe.CloseGoingAway, "relay shutting down", why)
	}
}

// ping sends a heartbeat ping (websockify's --heartbeat). s.ext is set.
// writeFrame flushes the pipe first, and writes nothing if that closed the
// browser.
func (s *session) ping(now int64) {
	s.ext.lastPing, s.ext.awaitPong = now, true
	s.writeFrame(wsframe.OpPing, nil)
}

// setReason records why the session ends; the first reason stands.
func (s *session) setReason(r Reason) {
	if s.reason == ReasonNone {
		s.reason = r
	}
}
