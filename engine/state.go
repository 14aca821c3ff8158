package engine

// state is where a session is in the path of a console.
type state uint8

const (
	// stateHandshake: reading the request head.
	stateHandshake state = iota
	// stateConnecting: a worker resolves the token and dials the console (or
	// reads a web file); the browser socket's reads are paused meanwhile.
	stateConnecting
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
	case stateConnecting:
		return "connecting"
	case stateRelaying:
		return "relaying"
	case stateClosing:
		return "closing"
	case stateClosed:
		return "closed"
	}
	return "unknown"
}
