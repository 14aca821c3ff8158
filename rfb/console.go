package rfb

// ConsoleHandshake is the relay as an RFB 3.8 client towards a console, up to
// and including SecurityResult (RFC 6143 sections 7.1.1-7.1.3, 7.2.1):
//
//	console → relay  ProtocolVersion "RFB 003.008\n"   (anything else: error)
//	relay → console  ProtocolVersion "RFB 003.008\n"
//	console → relay  U8 count, count × U8 security types
//	                 (count 0: U32 length + reason, error CodeRefused)
//	relay → console  U8 1 (None), if offered (else error CodeNoNone)
//	console → relay  U32 SecurityResult 0 (else U32 length + reason, error)
//
// Then it is Done, and it has read nothing beyond SecurityResult: the console
// sends ServerInit only after the browser's ClientInit, which the engine
// relays once BrowserHandshake is done.
//
// The choice of security type is made in one place (choose), which takes the
// first type in the console's order of preference that the relay accepts, as
// Nova does; today only None is accepted. VeNCrypt (19, sub-type X509None) is
// meant to hook in there, with a state that hands the socket to TLS before
// SecurityResult is read through it.
//
// The zero value is ready to use; it is not safe for concurrent use. It
// never allocates unless the handshake fails.
type ConsoleHandshake struct {
	state  ConsoleState
	err    error
	chosen SecurityType
	acc    acc
	out    outBuf

	// Security types offered, in the console's order.
	types      [255]byte
	ntypes     uint8
	wantTypes  uint8
	resultCode uint32

	// A failure reason being read (RFC 6143 7.1.2 count 0, 7.1.3 failed).
	reasonStage Stage
	reasonCode  Code
	reasonLen   uint32 // as the console announced it
	nreason     int    // bytes of it read into reason
	reason      []byte // allocated for a failure only: the success path allocates nothing
}

// ConsoleState is where a ConsoleHandshake is.
type ConsoleState uint8

// Console handshake states, in order.
const (
	ConsoleReadVersion      ConsoleState = iota // waiting for the console's ProtocolVersion
	ConsoleReadTypeCount                        // waiting for number-of-security-types
	ConsoleReadTypes                            // reading the security-types list
	ConsoleReadResult                           // waiting for SecurityResult
	ConsoleReadReasonLength                     // after a failure: reading reason-length
	ConsoleReadReason                           // after a failure: reading reason-string
	ConsoleDone                                 // SecurityResult OK: relay from here
	ConsoleFailed                               // an *Error ended the handshake
)

// String returns the state's name, e.g. "read-types".
func (s ConsoleState) String() string {
	switch s {
	case ConsoleReadVersion:
		return "read-version"
	case ConsoleReadTypeCount:
		return "read-type-count"
	case ConsoleReadTypes:
		return "read-types"
	case ConsoleReadResult:
		return "read-result"
	case ConsoleReadReasonLength:
		return "read-reason-length"
	case ConsoleReadReason:
		return "read-reason"
	case ConsoleDone:
		return "done"
	case ConsoleFailed:
		return "failed"
	}
	return "ConsoleState(?)"
}

// Feed takes bytes the console sent, in pieces of any size, and advances the
// handshake. It returns how many bytes of in it used: all of them until the
// handshake ends, then only up to the end of SecurityResult (or of the failure
// reason, or the offending byte), so bytes behind it stay with the caller.
//
// After each call the caller sends AppendOutput's bytes to the console. An
// error is an *Error; the handshake is over and the console connection should
// close (its output need not be sent). Once Done or failed, Feed uses no more
// bytes and returns the same error, if any.
func (h *ConsoleHandshake) Feed(in []byte) (consumed int, err error) {
	n := 0
	for h.err == nil && h.state != ConsoleDone {
		switch h.state {
		case ConsoleReadVersion:
			k, full := h.acc.fill(in[n:], VersionLen)
			n += k
			if !full {
				return n, nil
			}
			h.version(h.acc.take(VersionLen))
		case ConsoleReadTypeCount:
			if n == len(in) {
				return n, nil
			}
			h.typeCount(in[n])
			n++
		case ConsoleReadTypes:
			k := copy(h.types[h.ntypes:h.wantTypes], in[n:])
			n += k
			h.ntypes += uint8(k)
			if h.ntypes < h.wantTypes {
				return n, nil
			}
			h.choose()
		case ConsoleReadResult:
			k, full := h.acc.fill(in[n:], 4)
			n += k
			if !full {
				return n, nil
			}
			h.result(u32(h.acc.take(4)))
		case ConsoleReadReasonLength:
			k, full := h.acc.fill(in[n:], 4)
			n += k
			if !full {
				return n, nil
			}
			h.reasonLength(u32(h.acc.take(4)))
		case ConsoleReadReason:
			k := copy(h.reason[h.nreason:], in[n:])
			n += k
			h.nreason += k
			if h.nreason < len(h.reason) {
				return n, nil
			}
			h.fail(h.reasonStage, h.reasonCode, h.reasonText())
		}
	}
	return n, h.err
}

func (h *ConsoleHandshake) version(b []byte) {
	v, ok := ParseVersion(b)
	switch {
	case !ok:
		h.fail(StageVersion, CodeMalformedVersion, versionText(b))
	case v != Version38:
		// Nova requires 3.8 of the console and so does the relay. RFC 6143
		// would let a client answer 3.8 to a newer server (Apple's 3.889,
		// RealVNC's 4.x), but no console Nova drives sends those.
		h.fail(StageVersion, CodeUnsupportedVersion, versionText(b))
	default:
		h.out.add(ProtocolVersion38)
		h.state = ConsoleReadTypeCount
	}
}

func (h *ConsoleHandshake) typeCount(c byte) {
	if c == 0 {
		h.readReason(StageSecurity, CodeRefused)
		return
	}
	h.wantTypes = c
	h.state = ConsoleReadTypes
}

// choose picks the security type to use from those the console offered: the
// first, in the console's order, that the relay accepts (Nova's find_scheme
// walks the server's list the same way). Only None is accepted today.
func (h *ConsoleHandshake) choose() {
	offered := h.types[:h.ntypes]
	for _, t := range offered {
		if SecurityType(t) == SecurityNone {
			h.chosen = SecurityNone
			h.out.addByte(byte(SecurityNone))
			h.state = ConsoleReadResult
			return
		}
	}
	h.fail(StageSecurity, CodeNoNone, typesText("offered ", offered))
}

func (h *ConsoleHandshake) result(r uint32) {
	if SecurityResult(r) == SecurityResultOK {
		h.state = ConsoleDone
		return
	}
	h.resultCode = r
	h.readReason(StageSecurityResult, CodeSecurityFailed)
}

func (h *ConsoleHandshake) readReason(stage Stage, code Code) {
	h.reasonStage, h.reasonCode = stage, code
	h.state = ConsoleReadReasonLength
}

func (h *ConsoleHandshake) reasonLength(n uint32) {
	h.reasonLen = n
	if n == 0 {
		h.fail(h.reasonStage, h.reasonCode, h.reasonText())
		return
	}
	h.reason = make([]byte, h.reasonKeep())
	h.state = ConsoleReadReason
}

// reasonKeep is how much of the announced reason is read: at most MaxReason.
func (h *ConsoleHandshake) reasonKeep() int { return int(min(h.reasonLen, MaxReason)) }

// reasonText is the reason read so far for Error.Peer, with the result value
// when it is not plain "failed" and a mark when the reason was cut.
func (h *ConsoleHandshake) reasonText() string {
	s := sanitize(h.reason[:h.nreason])
	if h.reasonStage == StageSecurityResult && SecurityResult(h.resultCode) != SecurityResultFailed {
		s = "result " + uitoa(h.resultCode) + ": " + s
	}
	if uint32(h.nreason) < h.reasonLen {
		s += " [cut at " + uitoa(uint32(h.nreason)) + " of " + uitoa(h.reasonLen) + " bytes]"
	}
	return s
}

func (h *ConsoleHandshake) fail(stage Stage, code Code, peer string) {
	h.err = &Error{Side: SideConsole, Stage: stage, Code: code, Peer: peer}
	h.state = ConsoleFailed
}

// AppendOutput appends the bytes the relay must send to the console and
// forgets them. It returns dst unchanged when there are none.
func (h *ConsoleHandshake) AppendOutput(dst []byte) []byte { return h.out.appendTo(dst) }

// Done reports whether SecurityResult OK has been read: the console waits
// for ClientInit, and bytes pass untouched from here.
func (h *ConsoleHandshake) Done() bool { return h.state == ConsoleDone }

// State returns where the handshake is.
func (h *ConsoleHandshake) State() ConsoleState { return h.state }

// Chosen returns the security type sent to the console, or SecurityInvalid
// before the choice.
func (h *ConsoleHandshake) Chosen() SecurityType { return h.chosen }

// PeerClosed reports the console's end of stream (or a read error or timeout
// the caller treats as one) during the handshake: an *Error with CodeClosed
// and the stage it cut short, or, if the console had begun a failure reason,
// that failure with what arrived of its reason. It returns nil once Done, and
// the handshake's error once it failed. The handshake is over after it.
func (h *ConsoleHandshake) PeerClosed() error {
	switch h.state {
	case ConsoleDone, ConsoleFailed:
		return h.err
	case ConsoleReadReasonLength:
		h.fail(h.reasonStage, h.reasonCode, h.reasonText()+"[closed before the reason]")
	case ConsoleReadReason:
		h.fail(h.reasonStage, h.reasonCode, h.reasonText())
	default:
		h.fail(h.stage(), CodeClosed, "")
	}
	return h.err
}

func (h *ConsoleHandshake) stage() Stage {
	switch h.state {
	case ConsoleReadVersion:
		return StageVersion
	case ConsoleReadTypeCount, ConsoleReadTypes:
		return StageSecurity
	case ConsoleReadReasonLength, ConsoleReadReason:
		return h.reasonStage
	}
	return StageSecurityResult
}
