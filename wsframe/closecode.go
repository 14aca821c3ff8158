package wsframe

import (
	"encoding/binary"
	"unicode/utf8"
)

// CloseCode is a WebSocket close status code (RFC 6455 section 7.4).
type CloseCode uint16

// Close codes of RFC 6455 section 7.4.1 and the IANA registry.
const (
	CloseNormal           CloseCode = 1000
	CloseGoingAway        CloseCode = 1001
	CloseProtocolError    CloseCode = 1002
	CloseUnsupportedData  CloseCode = 1003
	CloseNoStatus         CloseCode = 1005 // never on the wire: "no code in the close frame"
	CloseAbnormal         CloseCode = 1006 // never on the wire: "closed without a close frame"
	CloseInvalidPayload   CloseCode = 1007
	ClosePolicyViolation  CloseCode = 1008
	CloseMessageTooBig    CloseCode = 1009
	CloseMandatoryExt     CloseCode = 1010
	CloseInternalError    CloseCode = 1011 // vncrelay: the console failed
	CloseServiceRestart   CloseCode = 1012
	CloseTryAgainLater    CloseCode = 1013
	CloseBadGateway       CloseCode = 1014
	MaxCloseReason                  = 123 // 125-byte control payload less the 2-byte code
	maxControlPayload               = 125
	closeCodeApplicationA CloseCode = 3000
	closeCodePrivateEnd   CloseCode = 4999
)

// ValidOnWire reports whether a peer may send code in a close frame: the codes
// RFC 6455 and the IANA registry define for use (1000-1003, 1007-1014) and the
// registered and private ranges 3000-4999.
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= CloseNormal && c <= CloseUnsupportedData:
		return true
	case c >= CloseInvalidPayload && c <= CloseBadGateway:
		return true
	case c >= closeCodeApplicationA && c <= closeCodePrivateEnd:
		return true
	}
	return false
}

func (c CloseCode) String() string {
	switch c {
	case CloseNormal:
		return "normal"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseNoStatus:
		return "no status"
	case CloseAbnormal:
		return "abnormal"
	case CloseInvalidPayload:
		return "invalid payload"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExt:
		return "mandatory extension"
	case CloseInternalError:
		return "internal error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseBadGateway:
		return "bad gateway"
	}
	return "other"
}

// ParseClosePayload reads the payload of a close frame (section 5.5.1): an
// empty payload means CloseNoStatus; otherwise a 2-byte code that must be valid
// on the wire, then a UTF-8 reason. reason aliases p.
func ParseClosePayload(p []byte) (code CloseCode, reason []byte, err error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, nil, nil
	case len(p) == 1:
		return 0, nil, ErrCloseLength
	}
	code = CloseCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return code, nil, ErrCloseCode
	}
	reason = p[2:]
	if !utf8.Valid(reason) {
		return code, nil, ErrCloseUTF8
	}
	return code, reason, nil
}

// AppendClosePayload appends a close payload with code and reason to dst.
// The reason is cut to MaxCloseReason bytes, on a UTF-8 boundary.
func AppendClosePayload(dst []byte, code CloseCode, reason string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, truncateUTF8(reason, MaxCloseReason)...)
}

// AppendCloseFrame appends a whole server close frame (unmasked, FIN set)
// carrying code and reason to dst.
func AppendCloseFrame(dst []byte, code CloseCode, reason string) []byte {
	reason = truncateUTF8(reason, MaxCloseReason)
	var hdr [MaxHeaderSize]byte
	n := PutHeader(hdr[:], true, OpClose, 2+len(reason))
	dst = append(dst, hdr[:n]...)
	return AppendClosePayload(dst, code, reason)
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
