package engine

import (
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// session is one browser connection and, once dialed, its console. Both
// sockets are on the same event loop, whose goroutine owns every field below
// "Owned by the event loop".
type session struct {
	// Set at accept.
	srv    *Server
	client string // browser address, kept because gnet forgets it at close
	opened time.Time

	// Owned by the event loop.
	loop     *loopState
	idx      int // position in loop.sessions; -1 when not listed
	state    state
	relayed  bool // reached stateRelaying: counted in Consoles, logged at close
	browser  gnet.Conn
	console  gnet.Conn
	deadline int64 // unix ns: handshake, connect or close deadline, by state

	// The plaintext of each side: browser and console themselves, or their
	// TLS layers btls and ctls (tlswire.go).
	bw, cw     wire
	btls, ctls *tlsWire

	// Handshake.
	head      *bytebufferpool.ByteBuffer // request head gathered over several reads; nil if it came whole
	plainHTTP bool                       // the request is not an upgrade: refusals may carry a body
	resp      []byte                     // the 101 response, sent once the console is dialed
	tokenMask string                     // auth.Mask of the token: the token itself never leaves the worker
	pol       *policy                    // the policy read at the request's head; nil once relaying
	target    consoleAddr                // where the console is, for log lines
	// dialed is written by the connect worker before it enrolls the console
	// socket, and read only from openConsole on, which the enrollment runs
	// after (the loop's task queue orders the two). The loop keeps it while
	// the console setup needs it (tunnel path, security proxy, expiry) and
	// drops it when the relay starts: an open console holds only target.
	dialed *auth.Target
	// dial is the console's connect in progress from the loop (dial.go),
	// while console is the connecting socket; nil otherwise.
	dial *dialAttempt
	// revokeToken is the token, kept only with Config.RevokeCheck on: written
	// by the connect worker with dialed, handed to the revoker's registry
	// when the relay starts and cleared.
	revokeToken string

	// Console setup (Nova): a CONNECT tunnel, the RFB security proxy. The
	// handshakes are allocated for the sessions that need them and dropped
	// when done.
	tunnelPending bool                  // CONNECT sent, its answer not read yet
	pageScheme    pageScheme            // the page's scheme, for a target's AccessScheme
	expires       int64                 // unix ns when the token expires (EnforceTokenExpiry); 0 never
	setupStart    time.Time             // when the console setup began; zero when there was none
	rfbConsole    *rfb.ConsoleHandshake // before the 101
	rfbBrowser    *rfb.BrowserHandshake // after the 101, until the browser chose None

	// Browser → console frames, parsed in place.
	stream wsframe.ClientStream

	// Console → browser frame header and the iovec it goes out with.
	hdr [wsframe.MaxHeaderSize]byte
	iov [2][]byte
	// pipe holds console bytes on their way to the browser by splice while
	// the browser socket is full; nil otherwise (splice.go). spliceNext: the
	// next console read is predicted large enough to splice.
	pipe       *splicePipe
	spliceNext bool

	// Liveness.
	lastActive  int64 // unix ns of the last byte either way (loop clock)
	lastPing    int64
	awaitPong   bool
	closeSent   bool // our close frame is written
	peerClosed  bool // the browser's close frame was received
	halfClosed  bool // our write side is shut down, waiting for the browser to close
	closeCode   wsframe.CloseCode
	reason      Reason
	bytesIn     int64
	bytesOut    int64
	pausedByWho uint8 // which side's reads we paused: pauseConsole, pauseBrowser

	rec ConsoleRecorder // --record; nil when not recorded

	// Client address and limits (clientaddr.go, limits.go).
	clientIP   netip.Addr  // the client's address: the peer's, or forwarded by a trusted proxy
	forwarded  bool        // clientIP came from a PROXY header or a trusted proxy's header
	awaitProxy bool        // a PROXY header must come first (a Config.ProxyProtocol source)
	clientSlot *limitEntry // the console slot held for the client's address
	// tokenSlot is written by the connect worker before it enrolls the
	// console socket (as dialed); the loop owns it from claimTokenSlot on.
	tokenSlot  *limitEntry
	tokenOwned bool // the loop claimed tokenSlot: released when the session ends
}

// consoleAddr is what a session keeps of its auth.Target once the console
// is dialed: the address for log lines (auth.Target holds more, which only
// the console setup needs).
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
	ip := peer.Addr().Unmap() // a dual-stack listener's IPv4 clients are logged as IPv4
	return &session{srv: srv, client: netip.AddrPortFrom(ip, peer.Port()).String(), clientIP: ip, opened: time.Now(), idx: -1,
		stream: wsframe.ClientStream{MaxMessage: srv.cfg.MaxMessageSize, MaxFragments: srv.cfg.MaxFragments}}
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
		if s.dial != nil && now > s.deadline {
			s.apply(s.dialTimedOut())
		} else if now > s.deadline+int64(time.Second) {
			s.apply(s.refuse(errConnectTimeout, ReasonRefused))
		}
	case stateConsoleSetup:
		if now > s.deadline {
			s.srv.log.Warn("console handshake timed out", "client", s.client, "target", s.target.String(),
				"token_mask", s.tokenMask)
			s.apply(s.refuse(errSetupTimeout, ReasonRefused))
		}
	case stateRelaying:
		switch {
		case s.expires != 0 && now > s.expires:
			s.closeWith(wsframe.ClosePolicyViolation, "console token expired", ReasonTokenExpired)
		case cfg.ConsoleIdleTimeout > 0 && now-s.lastActive > int64(cfg.ConsoleIdleTimeout):
			s.closeWith(wsframe.CloseNormal, "idle timeout", ReasonIdle)
		case s.awaitPong && s.pausedByWho&pauseBrowser == 0 && now-s.lastPing > int64(cfg.PongTimeout):
			s.closeWith(wsframe.ClosePolicyViolation, "no pong to heartbeat", ReasonPongTimeout)
		case cfg.Heartbeat > 0 && !s.awaitPong && now-s.lastPing >= int64(cfg.Heartbeat):
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

// ping sends a heartbeat ping (websockify's --heartbeat).
func (s *session) ping(now int64) {
	n := wsframe.PutHeader(s.hdr[:], true, wsframe.OpPing, 0)
	s.lastPing, s.awaitPong = now, true
	s.spliceFlush() // the ping follows the console bytes in the pipe
	_, _ = s.bw.Write(s.hdr[:n])
}

// setReason records why the session ends; the first reason stands.
func (s *session) setReason(r Reason) {
	if s.reason == ReasonNone {
		s.reason = r
	}
}
