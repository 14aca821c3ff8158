package rfb

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a failed RFB handshake on one side. The engine maps it with one
// errors.As: a console-side error before the upgrade becomes an HTTP 502 with
// Error() as the reason, a browser-side error a WebSocket close.
//
// Reason and Code are fixed text; Peer is what the peer sent, made safe for a
// log line: printable UTF-8 kept, control characters and invalid bytes
// replaced by '?', trailing NUL bytes (C servers count their terminator)
// dropped, at most MaxReason bytes of it read.
type Error struct {
	Side  Side  // whose bytes ended the handshake
	Stage Stage // the message being exchanged
	Code  Code  // what went wrong
	// Peer is the peer's own text, sanitized: the console's reason string, a
	// refused version line, the offered or chosen security types; "" if none.
	Peer string
	// Err is the cause when it came from outside this package: the TLS
	// layer's error for StageTLS (a *tls.CertificateVerificationError, a
	// received alert, a timeout); nil otherwise. Unwrap returns it.
	Err error
}

func (e *Error) Error() string {
	s := "rfb: " + e.Side.String() + " " + e.Code.Reason() + " (" + e.Stage.Reason() + ")"
	if e.Peer != "" {
		s += ": " + e.Peer
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err, so that errors.As reaches the TLS layer's error too.
func (e *Error) Unwrap() error { return e.Err }

// Side says which peer an Error is about.
type Side uint8

// Sides.
const (
	SideConsole Side = iota + 1 // the VNC server the relay dialed
	SideBrowser                 // the RFB client behind the WebSocket
)

// String returns "console" or "browser".
func (s Side) String() string {
	switch s {
	case SideConsole:
		return "console"
	case SideBrowser:
		return "browser"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

// Stage is the handshake message an Error happened at.
type Stage uint8

// Stages, one per message of RFC 6143 section 7.1.
const (
	StageVersion        Stage = iota + 1 // ProtocolVersion, section 7.1.1
	StageSecurity                        // security types and choice, section 7.1.2
	StageSecurityResult                  // SecurityResult, section 7.1.3
	StageVeNCrypt                        // VeNCrypt version and sub-type (rfbproto, security type 19)
	StageTLS                             // the TLS session VeNCrypt X509None runs
)

// String returns a short label: "version", "security" or "security-result".
func (s Stage) String() string {
	switch s {
	case StageVersion:
		return "version"
	case StageSecurity:
		return "security"
	case StageSecurityResult:
		return "security-result"
	case StageVeNCrypt:
		return "vencrypt"
	case StageTLS:
		return "tls"
	}
	return "Stage(" + strconv.Itoa(int(s)) + ")"
}

// Reason names the message and its RFC section, for error texts.
func (s Stage) Reason() string {
	switch s {
	case StageVersion:
		return "ProtocolVersion, RFC 6143 7.1.1"
	case StageSecurity:
		return "security types, RFC 6143 7.1.2"
	case StageSecurityResult:
		return "SecurityResult, RFC 6143 7.1.3"
	case StageVeNCrypt:
		return "VeNCrypt, rfbproto security type 19"
	case StageTLS:
		return "TLS of VeNCrypt X509None"
	}
	return s.String()
}

// Code is what went wrong, a closed set whose String doubles as a metric label.
type Code uint8

// Codes.
const (
	// CodeMalformedVersion: 12 bytes that are not "RFB xxx.yyy\n" (not an RFB
	// peer, e.g. an HTTP or TLS server behind the console address).
	CodeMalformedVersion Code = iota + 1
	// CodeUnsupportedVersion: a well-formed version other than 3.8.
	CodeUnsupportedVersion
	// CodeRefused: the console sent zero security types, then its reason.
	CodeRefused
	// CodeNoNone: the console does not offer security type None.
	CodeNoNone
	// CodeSecurityFailed: the console's SecurityResult was not OK.
	CodeSecurityFailed
	// CodeUnsupportedType: the browser chose a security type other than None.
	CodeUnsupportedType
	// CodeClosed: the peer closed the connection during the handshake
	// (reported by PeerClosed, never by Feed).
	CodeClosed
	// CodeNoScheme: the console offers none of the security types the
	// relay accepts (ConsoleHandshake.Accept set more than None).
	CodeNoScheme
	// CodeVeNCryptVersion: the console speaks a VeNCrypt version below 0.2,
	// or refused the relay's 0.2.
	CodeVeNCryptVersion
	// CodeNoX509None: the console does not offer VeNCrypt sub-type X509None.
	CodeNoX509None
	// CodeSubtypeRefused: the console did not accept X509None once chosen.
	CodeSubtypeRefused
	// CodeTLSUntrusted: the console's certificate did not verify against
	// the relay's CA certificates (Error.Err says why).
	CodeTLSUntrusted
	// CodeTLSAlert: the console ended the TLS session with an alert, such
	// as a refusal of the relay's client certificate (Error.Err names it).
	CodeTLSAlert
	// CodeTLSFailed: the TLS handshake failed otherwise: a timeout, a
	// protocol error, no common cipher (Error.Err says which).
	CodeTLSFailed
	// CodeClosedAfterTLS: the console closed the connection once TLS was up
	// and before its SecurityResult. QEMU with verify-peer=yes checks the
	// client certificate only after the TLS handshake and closes without an
	// alert when it refuses it (none sent, or issued by another CA).
	CodeClosedAfterTLS
)

// String returns the metric label, e.g. "no_none".
func (c Code) String() string {
	switch c {
	case CodeMalformedVersion:
		return "malformed_version"
	case CodeUnsupportedVersion:
		return "unsupported_version"
	case CodeRefused:
		return "refused"
	case CodeNoNone:
		return "no_none"
	case CodeSecurityFailed:
		return "security_failed"
	case CodeUnsupportedType:
		return "unsupported_type"
	case CodeClosed:
		return "closed"
	case CodeNoScheme:
		return "no_scheme"
	case CodeVeNCryptVersion:
		return "vencrypt_version"
	case CodeNoX509None:
		return "no_x509none"
	case CodeSubtypeRefused:
		return "subtype_refused"
	case CodeTLSUntrusted:
		return "tls_untrusted"
	case CodeTLSAlert:
		return "tls_alert"
	case CodeTLSFailed:
		return "tls_failed"
	case CodeClosedAfterTLS:
		return "closed_after_tls"
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Reason is the fixed text of the code, a predicate for "console" or
// "browser": "console does not offer security type None".
func (c Code) Reason() string {
	switch c {
	case CodeMalformedVersion:
		return "sent something other than an RFB ProtocolVersion"
	case CodeUnsupportedVersion:
		return "speaks an RFB version other than 3.8"
	case CodeRefused:
		return "refused the connection"
	case CodeNoNone:
		return "does not offer security type None"
	case CodeSecurityFailed:
		return "failed the security handshake"
	case CodeUnsupportedType:
		return "chose a security type other than None"
	case CodeClosed:
		return "closed the connection during the handshake"
	case CodeNoScheme:
		return "offers none of the security types the relay accepts"
	case CodeVeNCryptVersion:
		return "cannot speak VeNCrypt 0.2"
	case CodeNoX509None:
		return "does not offer VeNCrypt sub-type X509None (260)"
	case CodeSubtypeRefused:
		return "refused VeNCrypt sub-type X509None (260)"
	case CodeTLSUntrusted:
		return "presented a certificate that does not verify against the CA certificates"
	case CodeTLSAlert:
		return "ended the TLS session with an alert"
	case CodeTLSFailed:
		return "failed the TLS handshake"
	case CodeClosedAfterTLS:
		return "closed the connection after the TLS handshake, before SecurityResult " +
			"(as QEMU does when it refuses the relay's client certificate or gets none)"
	}
	return c.String()
}

// sanitize makes peer bytes safe for a log line (see Error.Peer).
func sanitize(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 || !unicode.IsPrint(r) {
			sb.WriteByte('?')
		} else {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}

// versionText is a version line for Error.Peer, without its newline.
func versionText(b []byte) string {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return sanitize(b)
}

// maxTypesText is how many security types typesText names; a console can
// offer up to 255.
const maxTypesText = 16

// typesText lists security types for Error.Peer: "offered 2 (VNC), 19
// (VeNCrypt)", the first maxTypesText of them and a count of the rest.
func typesText(prefix string, types []byte) string {
	var sb strings.Builder
	sb.WriteString(prefix)
	for i, t := range types {
		if i == maxTypesText {
			sb.WriteString(" and " + strconv.Itoa(len(types)-i) + " more")
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(SecurityType(t).String())
	}
	return sb.String()
}

func uitoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
