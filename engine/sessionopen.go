package engine

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/rfb"
)

// sessionOpen is the state a session needs only while it opens: the request,
// the lookup, the dial and the console setup. A loop keeps the structs of
// finished opens on a free list (loopState.takeOpen, giveOpen), so an open
// allocates none in steady state and an open console holds none. Owned by
// the session's loop; a worker is handed copies of what it reads (lookup).
type sessionOpen struct {
	head   *bytebufferpool.ByteBuffer // request head gathered over several reads; nil if it came whole
	resp   []byte                     // the 101 response, sent once the console is dialed
	pol    *policy                    // the policy read at the request's head
	dialed *auth.Target               // the resolved target, from the dial until the relay starts
	// dial is the console's connect in progress from the loop (dial.go),
	// while dialing, when console is the connecting socket.
	dial dialAttempt
	// revokeToken is the token, kept only with Config.RevokeCheck on,
	// handed to the revoker's registry when the relay starts.
	revokeToken string

	// Console setup (Nova): a CONNECT tunnel, the RFB security proxy. The
	// handshakes are allocated for the sessions that need them.
	setupStart time.Time             // when the console setup began; zero when there was none
	rfbConsole *rfb.ConsoleHandshake // before the 101
	// rfbBrowser runs after the 101, until the browser chose None: the
	// session keeps its sessionOpen until then.
	rfbBrowser *rfb.BrowserHandshake

	dialing       bool       // dial holds a connect in progress
	plainHTTP     bool       // the request is not an upgrade: refusals may carry a body
	tunnelPending bool       // CONNECT sent, its answer not read yet
	awaitProxy    bool       // a PROXY header must come first (a Config.ProxyProtocol source)
	pageScheme    pageScheme // the page's scheme, for a target's AccessScheme
}

// dialAttempt is a console connection in progress from the loop.
type dialAttempt struct {
	start time.Time       // the first connect(2), for the dial histogram
	next  []unix.Sockaddr // addresses still to try, in order, if this one fails
}

// maxFreeOpens bounds a loop's free list of sessionOpen: more opens at once
// than this allocate, and their structs go to the garbage collector.
const maxFreeOpens = 1024

// takeOpen returns a zeroed sessionOpen from the loop's free list, or a new
// one.
func (ls *loopState) takeOpen() *sessionOpen {
	if n := len(ls.freeOpens); n > 0 {
		o := ls.freeOpens[n-1]
		ls.freeOpens[n-1] = nil
		ls.freeOpens = ls.freeOpens[:n-1]
		return o
	}
	return new(sessionOpen)
}

// giveOpen puts o back on the loop's free list, cleared (the request head
// back in its pool), so that it keeps nothing alive.
func (ls *loopState) giveOpen(o *sessionOpen) {
	if o.head != nil {
		putHead(o.head)
	}
	*o = sessionOpen{}
	if len(ls.freeOpens) < maxFreeOpens {
		ls.freeOpens = append(ls.freeOpens, o)
	}
}

// releaseOpen gives the session's sessionOpen back to its loop, when the
// open is over: the relay started (and the browser's RFB handshake, if
// any, is done), or the session ended.
func (s *session) releaseOpen() {
	if o := s.op; o != nil {
		s.op = nil
		s.loop.giveOpen(o)
	}
}

// rfbBrowser is the browser side of the RFB security proxy while it runs
// (after the 101, until the browser chose None); nil otherwise.
func (s *session) rfbBrowser() *rfb.BrowserHandshake {
	if o := s.op; o != nil {
		return o.rfbBrowser
	}
	return nil
}

// sessionExtra is the state of what few consoles use: recording, token
// expiry, the heartbeat. A session allocates it when the relay starts with
// one of them on; others hold none.
type sessionExtra struct {
	rec       ConsoleRecorder // --record; nil when not recorded
	expires   int64           // unix ns when the token expires (EnforceTokenExpiry); 0 never
	lastPing  int64           // unix ns of the last heartbeat ping (or of the relay's start)
	awaitPong bool            // a ping is unanswered
}

// noExtra is what a session without a sessionExtra reads: nothing
// recorded, no expiry, no heartbeat. Never written.
var noExtra sessionExtra

// extra returns the session's sessionExtra, allocating it on first use.
func (s *session) extra() *sessionExtra {
	if s.ext == nil {
		s.ext = new(sessionExtra)
	}
	return s.ext
}

// recorder is the console's recorder; nil when it is not recorded.
func (s *session) recorder() ConsoleRecorder {
	if x := s.ext; x != nil {
		return x.rec
	}
	return nil
}

// btls is the browser socket's TLS layer; nil for a plain socket.
func (s *session) btls() *tlsWire {
	w, _ := s.bw.(*tlsWire)
	return w
}

// ctls is the console socket's TLS layer (--ssl-target, VeNCrypt); nil for
// a plain socket.
func (s *session) ctls() *tlsWire {
	w, _ := s.cw.(*tlsWire)
	return w
}

// logClient is the client's address for a log line, formatted only if the
// line is written.
func (s *session) logClient() clientText {
	return clientText{ip: s.clientIP(), port: s.clientPort, bare: s.clientBare}
}

// clientText is a client's address as log lines and the status page show
// it: host:port, or the host alone when a forwarding header gave no port.
type clientText struct {
	ip   netip.Addr
	port uint16
	bare bool
}

// String returns the address as host:port, or host when bare.
func (c clientText) String() string {
	if c.bare {
		return c.ip.String()
	}
	return netip.AddrPortFrom(c.ip, c.port).String()
}

// LogValue makes slog format the address only when the line is written.
func (c clientText) LogValue() slog.Value { return slog.StringValue(c.String()) }
