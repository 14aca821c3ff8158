package proxyproto

import "strconv"

// Error is a byte sequence that is not a valid PROXY header. Code says what
// is wrong; the text never holds the peer's bytes.
type Error struct {
	Code Code
}

func (e *Error) Error() string { return "proxyproto: " + e.Code.String() }

// Code is what made a header invalid.
type Code uint8

// Codes.
const (
	CodeNotProxy  Code = iota + 1 // neither the v1 nor the v2 signature
	CodeTooLong                   // v1 without CRLF in MaxV1Len bytes, or v2 length over MaxV2Payload
	CodeV1Syntax                  // v1 line not "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN ..."
	CodeV1Address                 // v1 address not an address of the line's family
	CodeV1Port                    // v1 port not a decimal 0..65535 without leading zero
	CodeV2Version                 // v2 version nibble not 2
	CodeV2Command                 // v2 command nibble neither LOCAL nor PROXY
	CodeV2Family                  // v2 family and transport byte not one the specification defines
	CodeV2Length                  // v2 length shorter than its family's address block
	CodeV2TLV                     // a v2 TLV runs past the end of the header
	codeCount
)

var codeText = [codeCount]string{
	CodeNotProxy:  "no PROXY protocol signature",
	CodeTooLong:   "header too long",
	CodeV1Syntax:  "v1 header malformed",
	CodeV1Address: "v1 address invalid",
	CodeV1Port:    "v1 port invalid",
	CodeV2Version: "v2 version not 2",
	CodeV2Command: "v2 command unknown",
	CodeV2Family:  "v2 address family or transport unknown",
	CodeV2Length:  "v2 length shorter than the address block",
	CodeV2TLV:     "v2 TLV past the end of the header",
}

// String returns the code's fixed text.
func (c Code) String() string {
	if c > 0 && c < codeCount {
		return codeText[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// The errors Parse returns, one per Code, preallocated.
var (
	ErrNotProxy  = &Error{CodeNotProxy}
	ErrTooLong   = &Error{CodeTooLong}
	ErrV1Syntax  = &Error{CodeV1Syntax}
	ErrV1Address = &Error{CodeV1Address}
	ErrV1Port    = &Error{CodeV1Port}
	ErrV2Version = &Error{CodeV2Version}
	ErrV2Command = &Error{CodeV2Command}
	ErrV2Family  = &Error{CodeV2Family}
	ErrV2Length  = &Error{CodeV2Length}
	ErrV2TLV     = &Error{CodeV2TLV}
)
