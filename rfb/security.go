package rfb

import "strconv"

// SecurityType is an RFB security type, one byte on the wire in RFB 3.7 and
// 3.8 (RFC 6143 section 7.1.2; numbers from the IANA "RFB Security Types"
// registry).
type SecurityType uint8

// Security types. The relay offers and chooses only SecurityNone; the others
// are named so that logs and errors can say what a peer offered.
const (
	// SecurityInvalid (0) is no type; in a 3.3 server's message it means failure.
	SecurityInvalid SecurityType = 0
	// SecurityNone (1): no authentication (RFC 6143 section 7.2.1).
	SecurityNone SecurityType = 1
	// SecurityVNCAuth (2): DES challenge-response (RFC 6143 section 7.2.2).
	SecurityVNCAuth SecurityType = 2
	// SecurityRA2 (5) and SecurityRA2ne (6): RealVNC's RSA-AES.
	SecurityRA2   SecurityType = 5
	SecurityRA2ne SecurityType = 6
	// SecurityTight (16): TightVNC's tunnel and authentication capabilities.
	SecurityTight SecurityType = 16
	// SecurityUltra (17): UltraVNC.
	SecurityUltra SecurityType = 17
	// SecurityTLS (18): anonymous TLS (Vino).
	SecurityTLS SecurityType = 18
	// SecurityVeNCrypt (19): TLS with sub-types, what QEMU and libvirt offer
	// for vnc_tls; Nova uses its X509None sub-type (260).
	SecurityVeNCrypt SecurityType = 19
	// SecuritySASL (20): SASL (QEMU, Vino).
	SecuritySASL SecurityType = 20
	// SecurityARD (30): Apple Remote Desktop.
	SecurityARD SecurityType = 30
)

// String returns the type's number and name, e.g. "19 (VeNCrypt)".
func (t SecurityType) String() string {
	return strconv.Itoa(int(t)) + " (" + t.name() + ")"
}

func (t SecurityType) name() string {
	switch t {
	case SecurityInvalid:
		return "Invalid"
	case SecurityNone:
		return "None"
	case SecurityVNCAuth:
		return "VNC"
	case SecurityRA2:
		return "RA2"
	case SecurityRA2ne:
		return "RA2ne"
	case SecurityTight:
		return "Tight"
	case SecurityUltra:
		return "Ultra"
	case SecurityTLS:
		return "TLS"
	case SecurityVeNCrypt:
		return "VeNCrypt"
	case SecuritySASL:
		return "SASL"
	case SecurityARD:
		return "ARD"
	}
	return "unknown"
}

// SecurityResult is the status word that ends the security handshake (RFC
// 6143 section 7.1.3), a big-endian U32.
type SecurityResult uint32

// SecurityResult values. Any value other than SecurityResultOK is a failure;
// in RFB 3.8 a reason string follows it.
const (
	SecurityResultOK     SecurityResult = 0
	SecurityResultFailed SecurityResult = 1
	// SecurityResultTooMany (2) is "failed, too many attempts", used by servers
	// with the Tight security type (rfbproto, not RFC 6143).
	SecurityResultTooMany SecurityResult = 2
)

// MaxReason is the most bytes of a peer's reason string (RFC 6143 sections
// 7.1.2 and 7.1.3: a U32 length and that many bytes) the console machine reads
// and keeps. A longer reason is cut there: the machine reports the error as
// soon as it has MaxReason bytes and leaves the rest unread, since the
// connection ends anyway. Reasons seen in practice are one short sentence.
const MaxReason = 1024
