package proxyproto

import (
	"net/netip"
	"strconv"
)

// Wire limits.
const (
	// MaxV1Len is the longest v1 header, CRLF included (section 2.1: "PROXY
	// UNKNOWN" with two full IPv6 addresses and ports is 107 bytes).
	MaxV1Len = 107
	// V2FixedLen is the fixed part of a v2 header: signature (12), version
	// and command (1), family and transport (1), length (2) (section 2.2).
	V2FixedLen = 16
	// MaxV2Payload is the largest v2 length field Parse accepts: addresses
	// and TLVs after the fixed 16 bytes. Larger is refused with ErrTooLong.
	MaxV2Payload = 4096
)

// Address block sizes of v2 families (section 2.2).
const (
	v2InetLen  = 12  // 2 × 4 address bytes, 2 × 2 port bytes
	v2Inet6Len = 36  // 2 × 16 address bytes, 2 × 2 port bytes
	v2UnixLen  = 216 // 2 × 108 path bytes
)

// v1Prefix starts every v1 header (section 2.1), with its one space.
const v1Prefix = "PROXY "

// v2Signature starts every v2 header (section 2.2).
const v2Signature = "\r\n\r\n\x00\r\nQUIT\n"

// Command is what a v2 header's command nibble says (section 2.2).
type Command uint8

// Commands.
const (
	// CommandLocal: the load balancer opened the connection itself (a health
	// check); the receiver keeps the socket's addresses.
	CommandLocal Command = 0x0
	// CommandProxy: the connection is relayed for a client; the addresses
	// are the client's. Every v1 header is a proxy command.
	CommandProxy Command = 0x1
)

// String returns "LOCAL" or "PROXY".
func (c Command) String() string {
	switch c {
	case CommandLocal:
		return "LOCAL"
	case CommandProxy:
		return "PROXY"
	}
	return "Command(" + strconv.Itoa(int(c)) + ")"
}

// Family is the address family of a header (v2's high nibble of byte 14;
// v1's TCP4, TCP6 and UNKNOWN).
type Family uint8

// Families.
const (
	FamilyUnspec Family = 0x0 // v2 AF_UNSPEC, v1 UNKNOWN: no address
	FamilyInet   Family = 0x1 // IPv4 (v1 TCP4)
	FamilyInet6  Family = 0x2 // IPv6 (v1 TCP6)
	FamilyUnix   Family = 0x3 // AF_UNIX paths: no IP address
)

// String returns the family's name in the specification.
func (f Family) String() string {
	switch f {
	case FamilyUnspec:
		return "UNSPEC"
	case FamilyInet:
		return "INET"
	case FamilyInet6:
		return "INET6"
	case FamilyUnix:
		return "UNIX"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// Transport is v2's low nibble of byte 14; v1 headers are always stream.
type Transport uint8

// Transports.
const (
	TransportUnspec Transport = 0x0
	TransportStream Transport = 0x1 // SOCK_STREAM (TCP)
	TransportDgram  Transport = 0x2 // SOCK_DGRAM (UDP)
)

// Header is a parsed PROXY header. Source and Destination hold the header's
// addresses when Family is FamilyInet or FamilyInet6 and Command is
// CommandProxy, and are zero otherwise.
type Header struct {
	Version   uint8 // 1 or 2
	Command   Command
	Family    Family
	Transport Transport
	// Source is the client's address and port; Destination the address the
	// client connected to on the load balancer.
	Source, Destination netip.AddrPort
}

// Client returns the address the header gives for the connection's client,
// and true; false means the receiver keeps the socket's own peer address:
// a LOCAL command (health check), an UNKNOWN or UNSPEC family, or a UNIX
// family (no IP address), as the specification asks of receivers.
func (h *Header) Client() (netip.AddrPort, bool) {
	if h.Command != CommandProxy || (h.Family != FamilyInet && h.Family != FamilyInet6) {
		return netip.AddrPort{}, false
	}
	return h.Source, true
}

// Sniff reports whether b starts with a PROXY signature: the v1 "PROXY "
// or the 12-byte v2 signature. It is for refusing a header from a source
// that may not send one; b shorter than the signature is not a match.
func Sniff(b []byte) bool {
	return hasPrefix(b, v1Prefix) || hasPrefix(b, v2Signature)
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// Parse reads a PROXY header, v1 or v2, at the start of b.
//
// With the whole header in b it returns the header and n, its length in
// bytes (what follows it is the client's data), need 0 and a nil error.
// When b is a valid beginning of a header, n is 0, err is nil and need is the
// least total length b must reach before Parse can say more: exact for a v2
// header once its 16 fixed bytes are in, a lower bound for v1 (the line ends
// at its CRLF, at most MaxV1Len bytes in). Otherwise err is an *Error:
// ErrNotProxy when b starts with neither signature.
func Parse(b []byte) (h Header, n, need int, err error) {
	if len(b) == 0 {
		return h, 0, 1, nil
	}
	switch b[0] {
	case v1Prefix[0]:
		if !prefixOf(b, v1Prefix) {
			return h, 0, 0, ErrNotProxy
		}
		return parseV1(b)
	case v2Signature[0]:
		if !prefixOf(b, v2Signature) {
			return h, 0, 0, ErrNotProxy
		}
		return parseV2(b)
	}
	return h, 0, 0, ErrNotProxy
}

// prefixOf reports whether b and sig agree on their common length.
func prefixOf(b []byte, sig string) bool {
	m := min(len(b), len(sig))
	return string(b[:m]) == sig[:m]
}
