package rfb

// Reasons the relay sends a browser it refuses, as RFB strings.
const (
	// versionRefusal follows a zero security-type count (3.7 form) or a zero
	// security-type word (3.3 form) when the browser answers a version
	// other than 3.8.
	versionRefusal = "vncrelay speaks RFB 3.8 only"
	// choiceRefusal follows a failed SecurityResult when the browser chose a
	// type other than None.
	choiceRefusal = "vncrelay offers security type None (1) only"
)

// BrowserHandshake is the relay as an RFB 3.8 server towards the browser,
// over the payloads of its WebSocket frames, up to and including
// SecurityResult (RFC 6143 sections 7.1.1-7.1.3, 7.2.1):
//
//	relay → browser  ProtocolVersion "RFB 003.008\n"
//	browser → relay  ProtocolVersion "RFB 003.008\n"   (anything else: error)
//	relay → browser  U8 1, U8 1: one security type, None
//	browser → relay  U8 1 (None)
//	relay → browser  U32 0: SecurityResult OK
//	                 (another type: U32 1 + reason, error CodeUnsupportedType)
//
// Then it is Done; what follows (ClientInit first, possibly in the same
// input) belongs to the console. The relay answers SecurityResult itself,
// having read the console's before the upgrade; Nova instead passes the
// console's SecurityResult through, which for None is the same four bytes.
//
// The zero value is ready to use; it is not safe for concurrent use. It
// never allocates unless the handshake fails.
type BrowserHandshake struct {
	state BrowserState
	err   error
	acc   acc
	out   outBuf
}

// BrowserState is where a BrowserHandshake is.
type BrowserState uint8

// Browser handshake states, in order.
const (
	BrowserStart       BrowserState = iota // nothing sent: the first AppendOutput or Feed queues ProtocolVersion
	BrowserReadVersion                     // ProtocolVersion sent, waiting for the browser's
	BrowserReadChoice                      // security types sent, waiting for the browser's choice
	BrowserDone                            // SecurityResult OK queued: relay from here
	BrowserFailed                          // an *Error ended the handshake
)

// String returns the state's name, e.g. "read-choice".
func (s BrowserState) String() string {
	switch s {
	case BrowserStart:
		return "start"
	case BrowserReadVersion:
		return "read-version"
	case BrowserReadChoice:
		return "read-choice"
	case BrowserDone:
		return "done"
	case BrowserFailed:
		return "failed"
	}
	return "BrowserState(?)"
}

// Feed takes bytes the browser sent (WebSocket payloads, in pieces of any
// size) and advances the handshake. It returns how many bytes of in it used:
// all of them until the handshake ends, then only up to the security-type
// choice, so the ClientInit and anything after it stay with the caller, who
// sends them to the console.
//
// After each call, error or not, the caller sends AppendOutput's bytes to the
// browser: on an error they are the refusal the browser shows its user, so
// the caller flushes them before closing. An error is an *Error. Once Done or
// failed, Feed uses no more bytes and returns the same error, if any.
func (h *BrowserHandshake) Feed(in []byte) (consumed int, err error) {
	n := 0
	for h.err == nil && h.state != BrowserDone {
		switch h.state {
		case BrowserStart:
			h.start()
		case BrowserReadVersion:
			k, full := h.acc.fill(in[n:], VersionLen)
			n += k
			if !full {
				return n, nil
			}
			h.version(h.acc.take(VersionLen))
		case BrowserReadChoice:
			if n == len(in) {
				return n, nil
			}
			h.choice(SecurityType(in[n]))
			n++
		}
	}
	return n, h.err
}

func (h *BrowserHandshake) start() {
	h.out.add(ProtocolVersion38)
	h.state = BrowserReadVersion
}

// version checks the browser's answer. Nova requires 3.8 and so does the
// relay: noVNC and other current clients answer 3.8 to a 3.8 server. Where
// Nova just drops the socket, the relay first tells a 3.3 or 3.7 client why,
// in the form its version reads (RFC 6143 section 7.1.2: a zero
// security-type word for 3.3, which covers 3.5 and other minors below 7, a
// zero count for 3.7 and later), so its user sees a reason.
func (h *BrowserHandshake) version(b []byte) {
	v, ok := ParseVersion(b)
	switch {
	case !ok:
		h.fail(StageVersion, CodeMalformedVersion, versionText(b))
	case v == Version38:
		h.out.addByte(1)
		h.out.addByte(byte(SecurityNone))
		h.state = BrowserReadChoice
	default:
		if v.Major < Version37.Major || v.Major == Version37.Major && v.Minor < Version37.Minor {
			h.out.addU32(uint32(SecurityInvalid))
		} else {
			h.out.addByte(0)
		}
		h.out.addReason(versionRefusal)
		h.fail(StageVersion, CodeUnsupportedVersion, versionText(b))
	}
}

func (h *BrowserHandshake) choice(t SecurityType) {
	if t == SecurityNone {
		h.out.addU32(uint32(SecurityResultOK))
		h.state = BrowserDone
		return
	}
	h.out.addU32(uint32(SecurityResultFailed))
	h.out.addReason(choiceRefusal)
	h.fail(StageSecurity, CodeUnsupportedType, t.String())
}

func (h *BrowserHandshake) fail(stage Stage, code Code, peer string) {
	h.err = &Error{Side: SideBrowser, Stage: stage, Code: code, Peer: peer}
	h.state = BrowserFailed
}

// AppendOutput appends the bytes the relay must send to the browser and
// forgets them. The first call, before any Feed, returns the relay's
// ProtocolVersion, which the relay sends as soon as the WebSocket is open.
func (h *BrowserHandshake) AppendOutput(dst []byte) []byte {
	if h.state == BrowserStart {
		h.start()
	}
	return h.out.appendTo(dst)
}

// Done reports whether the browser chose None and SecurityResult OK is
// queued: bytes pass untouched from here.
func (h *BrowserHandshake) Done() bool { return h.state == BrowserDone }

// State returns where the handshake is.
func (h *BrowserHandshake) State() BrowserState { return h.state }

// PeerClosed reports the browser's end of stream during the handshake (the
// WebSocket closed, or a read error or timeout the caller treats as one): an
// *Error with CodeClosed and the stage it cut short. It returns nil once
// Done, and the handshake's error once it failed. The handshake is over
// after it.
func (h *BrowserHandshake) PeerClosed() error {
	switch h.state {
	case BrowserDone, BrowserFailed:
		return h.err
	case BrowserReadChoice:
		h.fail(StageSecurity, CodeClosed, "")
	default:
		h.fail(StageVersion, CodeClosed, "")
	}
	return h.err
}
