package rfb

import (
	"bytes"
	"errors"
)

// ConsoleHandshake is the relay as an RFB 3.8 client towards a console, up to
// and including SecurityResult (RFC 6143 sections 7.1.1-7.1.3, 7.2.1;
// rfbproto's VeNCrypt for security type 19):
//
//	console → relay  ProtocolVersion "RFB 003.008\n"   (anything else: error)
//	relay → console  ProtocolVersion "RFB 003.008\n"
//	console → relay  U8 count, count × U8 security types
//	                 (count 0: U32 length + reason, error CodeRefused)
//	relay → console  U8 chosen type: the first of Accept's list offered
//	                 (none offered: error CodeNoNone or CodeNoScheme)
//
// With None chosen the console answers SecurityResult at once. With
// VeNCrypt (19), the VeNCrypt 0.2 exchange comes first:
//
//	console → relay  U8 major, U8 minor: its highest version (below 0.2: error)
//	relay → console  U8 0, U8 2
//	console → relay  U8 0 = version accepted (else error CodeVeNCryptVersion)
//	console → relay  U8 count, count × U32 sub-types
//	relay → console  U32 260 (X509None), if offered (else error CodeNoX509None)
//	console → relay  U8 1 = accepted (else error CodeSubtypeRefused)
//	                 NeedsTLS: the caller runs a TLS client handshake on the
//	                 connection, from the first byte Feed did not use, then
//	                 calls TLSEstablished and feeds the decrypted stream
//
// and then, in either case:
//
//	console → relay  U32 SecurityResult 0 (else U32 length + reason, error)
//
// Then it is Done, and it has read nothing beyond SecurityResult: the console
// sends ServerInit only after the browser's ClientInit, which the engine
// relays once BrowserHandshake is done. The browser sees security type None
// whatever was chosen here.
//
// The zero value is ready to use and accepts None only; Accept changes that
// before the first Feed. It is not safe for concurrent use. It never
// allocates unless the handshake fails.
type ConsoleHandshake struct {
	state  ConsoleState
	err    error
	chosen SecurityType
	acc    acc
	out    outBuf

	// The types the relay accepts, in its order of preference; none set
	// means None only.
	accept  [2]SecurityType
	naccept uint8

	// Security types offered, in the console's order.
	types      [255]byte
	ntypes     uint8
	wantTypes  uint8
	resultCode uint32

	// VeNCrypt sub-types offered: how many announced, how many read, the
	// first of them for an error text, and whether X509None was among them.
	wantSubtypes uint8
	nsubtypes    uint8
	subtypes     [maxTypesText]uint32
	x509None     bool
	// secured is set once TLS is up: Feed's input is the decrypted stream.
	secured bool

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
	ConsoleReadVersion         ConsoleState = iota // waiting for the console's ProtocolVersion
	ConsoleReadTypeCount                           // waiting for number-of-security-types
	ConsoleReadTypes                               // reading the security-types list
	ConsoleReadVeNCryptVersion                     // VeNCrypt chosen: waiting for the console's version
	ConsoleReadVeNCryptAck                         // 0.2 sent: waiting for the console's acceptance
	ConsoleReadSubtypeCount                        // waiting for the number of VeNCrypt sub-types
	ConsoleReadSubtypes                            // reading the sub-type list
	ConsoleReadSubtypeAck                          // X509None sent: waiting for the console's acceptance
	ConsoleStartTLS                                // X509None accepted: the caller runs the TLS handshake
	ConsoleReadResult                              // waiting for SecurityResult
	ConsoleReadReasonLength                        // after a failure: reading reason-length
	ConsoleReadReason                              // after a failure: reading reason-string
	ConsoleDone                                    // SecurityResult OK: relay from here
	ConsoleFailed                                  // an *Error ended the handshake
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
	case ConsoleReadVeNCryptVersion:
		return "read-vencrypt-version"
	case ConsoleReadVeNCryptAck:
		return "read-vencrypt-ack"
	case ConsoleReadSubtypeCount:
		return "read-subtype-count"
	case ConsoleReadSubtypes:
		return "read-subtypes"
	case ConsoleReadSubtypeAck:
		return "read-subtype-ack"
	case ConsoleStartTLS:
		return "start-tls"
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

// noneOnly is what a handshake without Accept accepts.
var noneOnly = []SecurityType{SecurityNone}

// Accept sets the security types the handshake may choose, in the relay's
// order of preference, as Nova's [vnc] auth_schemes lists them: SecurityNone,
// SecurityVeNCrypt, or both in either order. The zero handshake accepts
// None only. It must be called before the first Feed; it returns an error,
// and changes nothing, for an empty list, another type, a repeated type, or a
// handshake already begun.
func (h *ConsoleHandshake) Accept(types ...SecurityType) error {
	if h.state != ConsoleReadVersion || h.acc.n != 0 {
		return errors.New("rfb: Accept after the handshake began")
	}
	if len(types) == 0 || len(types) > len(h.accept) {
		return errors.New("rfb: Accept takes one or two security types")
	}
	for i, t := range types {
		if t != SecurityNone && t != SecurityVeNCrypt {
			return errors.New("rfb: Accept: security type " + t.String() + " is not supported (None, VeNCrypt)")
		}
		for _, u := range types[:i] {
			if u == t {
				return errors.New("rfb: Accept: security type " + t.String() + " given twice")
			}
		}
	}
	h.naccept = uint8(copy(h.accept[:], types))
	return nil
}

// accepted returns the types the relay accepts, in its order of preference.
func (h *ConsoleHandshake) accepted() []SecurityType {
	if h.naccept == 0 {
		return noneOnly
	}
	return h.accept[:h.naccept]
}

// Feed takes bytes the console sent, in pieces of any size, and advances the
// handshake. It returns how many bytes of in it used: all of them until the
// handshake ends or waits for TLS, then only up to the end of SecurityResult
// (or of the failure reason, or the offending byte), or up to the VeNCrypt
// sub-type acceptance, so bytes behind it stay with the caller: the relay's
// ClientInit's answer, or the start of the console's TLS handshake.
//
// After each call the caller sends AppendOutput's bytes to the console, then
// checks NeedsTLS. An error is an *Error; the handshake is over and the
// console connection should close (its output need not be sent). Once Done
// or failed, and while it waits for TLS, Feed uses no more bytes and returns
// the same error, if any.
func (h *ConsoleHandshake) Feed(in []byte) (consumed int, err error) {
	n := 0
	for h.err == nil && h.state != ConsoleDone && h.state != ConsoleStartTLS {
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
		case ConsoleReadVeNCryptVersion:
			k, full := h.acc.fill(in[n:], 2)
			n += k
			if !full {
				return n, nil
			}
			v := h.acc.take(2)
			h.veNCryptVersion(v[0], v[1])
		case ConsoleReadVeNCryptAck:
			if n == len(in) {
				return n, nil
			}
			h.veNCryptAck(in[n])
			n++
		case ConsoleReadSubtypeCount:
			if n == len(in) {
				return n, nil
			}
			h.subtypeCount(in[n])
			n++
		case ConsoleReadSubtypes:
			k, full := h.acc.fill(in[n:], 4)
			n += k
			if !full {
				return n, nil
			}
			h.subtype(u32(h.acc.take(4)))
		case ConsoleReadSubtypeAck:
			if n == len(in) {
				return n, nil
			}
			h.subtypeAck(in[n])
			n++
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

// choose picks the security type to use from those the console offered:
// the first, in the relay's order of preference (Accept), that the console
// offers. Nova's find_scheme walks the console's list instead, which lets
// a console offering None before VeNCrypt downgrade a proxy configured
// with "vencrypt,none"; its documentation promises the configured order,
// which the relay keeps.
func (h *ConsoleHandshake) choose() {
	offered := h.types[:h.ntypes]
	accepted := h.accepted()
	for _, t := range accepted {
		if bytes.IndexByte(offered, byte(t)) < 0 {
			continue
		}
		h.chosen = t
		h.out.addByte(byte(t))
		if t == SecurityVeNCrypt {
			h.state = ConsoleReadVeNCryptVersion
		} else {
			h.state = ConsoleReadResult
		}
		return
	}
	if len(accepted) == 1 && accepted[0] == SecurityNone {
		h.fail(StageSecurity, CodeNoNone, typesText("offered ", offered))
		return
	}
	h.fail(StageSecurity, CodeNoScheme, typesText("offered ", offered)+"; the relay "+acceptText(accepted))
}

// veNCryptVersion answers the console's highest VeNCrypt version with 0.2,
// the only version that lists sub-types as U32 values. Nova wants exactly
// 0.2 from the console; the relay also answers 0.2 to a higher version, as
// the extension intends (the console then accepts or refuses it).
func (h *ConsoleHandshake) veNCryptVersion(major, minor byte) {
	if major == veNCryptMajor && minor < veNCryptMinor {
		h.fail(StageVeNCrypt, CodeVeNCryptVersion, "offered "+uitoa(uint32(major))+"."+uitoa(uint32(minor)))
		return
	}
	h.out.addByte(veNCryptMajor)
	h.out.addByte(veNCryptMinor)
	h.state = ConsoleReadVeNCryptAck
}

func (h *ConsoleHandshake) veNCryptAck(c byte) {
	if c != 0 {
		h.fail(StageVeNCrypt, CodeVeNCryptVersion, "refused 0.2 (answered "+uitoa(uint32(c))+")")
		return
	}
	h.state = ConsoleReadSubtypeCount
}

func (h *ConsoleHandshake) subtypeCount(c byte) {
	if c == 0 {
		h.fail(StageVeNCrypt, CodeNoX509None, subtypesText(nil, 0))
		return
	}
	h.wantSubtypes = c
	h.state = ConsoleReadSubtypes
}

// subtype takes one offered sub-type; after the last it chooses X509None,
// the only sub-type the relay (and Nova) uses.
func (h *ConsoleHandshake) subtype(v uint32) {
	if int(h.nsubtypes) < len(h.subtypes) {
		h.subtypes[h.nsubtypes] = v
	}
	h.nsubtypes++
	h.x509None = h.x509None || VeNCryptSubtype(v) == VeNCryptX509None
	if h.nsubtypes < h.wantSubtypes {
		return
	}
	if !h.x509None {
		seen := h.subtypes[:min(int(h.nsubtypes), len(h.subtypes))]
		h.fail(StageVeNCrypt, CodeNoX509None, subtypesText(seen, int(h.nsubtypes)))
		return
	}
	h.out.addU32(uint32(VeNCryptX509None))
	h.state = ConsoleReadSubtypeAck
}

// subtypeAck reads the console's acceptance of X509None: a U8 that RFB's
// specifications leave out and QEMU, GTK-VNC and TigerVNC send, 1 for
// accepted. Nova takes any non-zero value; the relay wants 1.
func (h *ConsoleHandshake) subtypeAck(c byte) {
	if c != 1 {
		h.fail(StageVeNCrypt, CodeSubtypeRefused, "answered "+uitoa(uint32(c)))
		return
	}
	h.state = ConsoleStartTLS
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

// NeedsTLS reports whether the console accepted VeNCrypt X509None and the
// handshake waits for TLS: the caller sends AppendOutput's bytes, runs a
// TLS client handshake over the connection, starting with the bytes Feed
// did not use (the console's first TLS record may have arrived with its
// acceptance), and then calls TLSEstablished, or TLSFailed. Feed uses no
// bytes meanwhile.
func (h *ConsoleHandshake) NeedsTLS() bool { return h.state == ConsoleStartTLS }

// TLSEstablished tells the handshake that the TLS session is up: from now on
// Feed takes the decrypted stream, which carries SecurityResult. It does
// nothing unless NeedsTLS.
func (h *ConsoleHandshake) TLSEstablished() {
	if h.state == ConsoleStartTLS {
		h.secured = true
		h.state = ConsoleReadResult
	}
}

// TLSFailed reports a failure of the TLS layer while the handshake waits for
// it or reads through it: err, as crypto/tls returned it, becomes Error.Err
// of an *Error at StageTLS whose Code says what kind of failure it was
// (CodeTLSUntrusted, CodeTLSAlert, CodeTLSFailed). With TLS 1.3 a client
// learns that the server refused its certificate only at its first read,
// after its own handshake ended: that alert comes here too. It returns nil
// once Done and the handshake's error once it failed; the handshake is over
// after it.
func (h *ConsoleHandshake) TLSFailed(err error) error {
	switch h.state {
	case ConsoleDone, ConsoleFailed:
		return h.err
	}
	if err == nil {
		err = errors.New("TLS failed")
	}
	h.err = &Error{Side: SideConsole, Stage: StageTLS, Code: tlsCode(err), Err: err}
	h.state = ConsoleFailed
	return h.err
}

// Done reports whether SecurityResult OK has been read: the console waits
// for ClientInit, and bytes pass untouched from here.
func (h *ConsoleHandshake) Done() bool { return h.state == ConsoleDone }

// State returns where the handshake is.
func (h *ConsoleHandshake) State() ConsoleState { return h.state }

// Chosen returns the security type sent to the console, or SecurityInvalid
// before the choice. With SecurityVeNCrypt the sub-type is X509None.
func (h *ConsoleHandshake) Chosen() SecurityType { return h.chosen }

// PeerClosed reports the console's end of stream (or a read error or timeout
// the caller treats as one) during the handshake: an *Error with CodeClosed
// and the stage it cut short (CodeClosedAfterTLS once TLS was up: the
// console let the TLS handshake finish, then hung up), or, if the console
// had begun a failure reason, that failure with what arrived of its reason.
// It returns nil once Done, and the handshake's error once it failed. The
// handshake is over after it.
func (h *ConsoleHandshake) PeerClosed() error {
	switch h.state {
	case ConsoleDone, ConsoleFailed:
		return h.err
	case ConsoleReadReasonLength:
		h.fail(h.reasonStage, h.reasonCode, h.reasonText()+"[closed before the reason]")
	case ConsoleReadReason:
		h.fail(h.reasonStage, h.reasonCode, h.reasonText())
	case ConsoleReadResult:
		if h.secured {
			h.fail(StageSecurityResult, CodeClosedAfterTLS, "")
		} else {
			h.fail(StageSecurityResult, CodeClosed, "")
		}
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
	case ConsoleReadVeNCryptVersion, ConsoleReadVeNCryptAck, ConsoleReadSubtypeCount,
		ConsoleReadSubtypes, ConsoleReadSubtypeAck:
		return StageVeNCrypt
	case ConsoleStartTLS:
		return StageTLS
	case ConsoleReadReasonLength, ConsoleReadReason:
		return h.reasonStage
	}
	return StageSecurityResult
}
