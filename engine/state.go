package engine

// state is where a session is in the path of a console.
type state uint8

const (
	// stateHandshake: reading the request head.
	stateHandshake state = iota
	// stateTLSHandshake: the browser's TLS handshake runs on a worker, fed
	// with the socket's bytes by the loop (tlsserver.go).
	stateTLSHandshake
	// stateConnecting: a worker resolves the token and dials the console (or
	// reads a web file); the browser socket's reads are paused meanwhile.
	stateConnecting
	// stateConsoleSetup: the console is dialed and the relay works with it
	// before the 101: a CONNECT tunnel's answer, the RFB security proxy's
	// handshake with the console. The browser's reads stay paused.
	stateConsoleSetup
	// stateRelaying: the 101 is sent and bytes flow both ways.
	stateRelaying
	// stateClosing: a close frame or HTTP refusal is being flushed; the console
	// socket is already closed. Input from the browser is parsed only to see its
	// close frame, and dropped.
	stateClosing
	// stateClosed: the browser socket is closed; the session is finished.
	stateClosed
)

func (s state) String() string {
	switch s {
	case stateHandshake:
		return "handshake"
	case stateTLSHandshake:
		return "tls_handshake"
	case stateConnecting:
		return "connecting"
	case stateConsoleSetup:
		return "console_setup"
	case stateRelaying:
		return "relaying"
	case stateClosing:
		return "closing"
	case stateClosed:
		return "closed"
	}
	return "unknown"
}

// pending reports whether a session in this state counts as a pending
// handshake (Stats.Pending, Config.MaxPendingHandshakes).
func (s state) pending() bool {
	return s == stateHandshake || s == stateTLSHandshake || s == stateConnecting || s == stateConsoleSetup
}
