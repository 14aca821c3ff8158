package wsframe

import "fmt"

// HTTPError is a refusal of a request before the WebSocket upgrade: the engine
// answers it with Status and Reason as a plain-text body. Reason never holds
// request data (a token could be in it).
type HTTPError struct {
	Status int    // HTTP status code, e.g. 400
	Reason string // short, fixed text for the body and the log
	// Header is an extra response header line without CRLF, or "" (426 uses it).
	Header string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("http %d: %s", e.Status, e.Reason) }

// ProtocolError is a violation of RFC 6455 after the upgrade, or a limit hit:
// the engine closes the WebSocket with Code and Reason.
type ProtocolError struct {
	Code   CloseCode
	Reason string // fixed text, at most 123 bytes so it fits a close frame
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("websocket %d (%s): %s", uint16(e.Code), e.Code, e.Reason)
}

func protocolError(code CloseCode, reason string) *ProtocolError {
	return &ProtocolError{Code: code, Reason: reason}
}

// Errors returned by the frame parsers. They are values so that the hot path
// does not allocate when it reports one.
var (
	ErrUnmasked        = protocolError(CloseProtocolError, "client frame not masked")
	ErrMasked          = protocolError(CloseProtocolError, "server frame masked")
	ErrReservedBits    = protocolError(CloseProtocolError, "reserved bits set without extension")
	ErrReservedOpcode  = protocolError(CloseProtocolError, "reserved opcode")
	ErrControlTooLong  = protocolError(CloseProtocolError, "control frame payload over 125 bytes")
	ErrControlFragment = protocolError(CloseProtocolError, "fragmented control frame")
	ErrLengthMSB       = protocolError(CloseProtocolError, "64-bit payload length with most significant bit set")
	ErrCloseLength     = protocolError(CloseProtocolError, "close payload of 1 byte")
	ErrCloseCode       = protocolError(CloseProtocolError, "invalid close code")
	ErrCloseUTF8       = protocolError(CloseInvalidPayload, "close reason not valid UTF-8")
	ErrContinuation    = protocolError(CloseProtocolError, "continuation frame without a message")
	ErrMessageOpen     = protocolError(CloseProtocolError, "new data frame inside a fragmented message")
	ErrTextFrame       = protocolError(CloseUnsupportedData, "text frames not supported; use binary")
	ErrTooBig          = protocolError(CloseMessageTooBig, "message over size limit")
	// ErrTooManyFragments closes with 1009 too: a message of more frames than
	// the relay takes is, like one of too many bytes, too big to process.
	ErrTooManyFragments = protocolError(CloseMessageTooBig, "message in too many fragments")
)
