package proxyproto

import (
	"bytes"
	"net/netip"
)

// parseV1 reads a v1 header (section 2.1): one line of US-ASCII,
//
//	"PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF
//	"PROXY" SP "UNKNOWN" [SP anything] CRLF
//
// at most MaxV1Len bytes with its CRLF, fields separated by exactly one
// space. b starts with (a prefix of) "PROXY ". A long function because it is
// a byte parser read top to bottom, field by field.
func parseV1(b []byte) (h Header, n, need int, err error) {
	win := b[:min(len(b), MaxV1Len)]
	lf := bytes.IndexByte(win, '\n')
	if lf < 0 {
		if len(b) >= MaxV1Len {
			return h, 0, 0, ErrTooLong
		}
		// The shortest line is "PROXY UNKNOWN\r\n".
		return h, 0, max(len(b)+1, len(v1Prefix)+len("UNKNOWN\r\n")), nil
	}
	if lf < len(v1Prefix)+1 || win[lf-1] != '\r' {
		return h, 0, 0, ErrV1Syntax
	}
	line := win[len(v1Prefix) : lf-1] // between "PROXY " and CRLF
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		// The receiver ignores whatever follows up to the CRLF.
		return Header{Version: 1, Command: CommandProxy}, lf + 1, 0, nil
	case "TCP4":
		h.Family = FamilyInet
	case "TCP6":
		h.Family = FamilyInet6
	default:
		return h, 0, 0, ErrV1Syntax
	}
	h.Version, h.Command, h.Transport = 1, CommandProxy, TransportStream
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if ok != (i < 3) || len(f[i]) == 0 {
			return Header{}, 0, 0, ErrV1Syntax // a field missing, empty, or one too many
		}
	}
	src, err1 := v1Addr(f[0], h.Family)
	dst, err2 := v1Addr(f[1], h.Family)
	if err1 != nil || err2 != nil {
		return Header{}, 0, 0, ErrV1Address
	}
	sport, ok1 := v1Port(f[2])
	dport, ok2 := v1Port(f[3])
	if !ok1 || !ok2 {
		return Header{}, 0, 0, ErrV1Port
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Destination = netip.AddrPortFrom(dst, dport)
	return h, lf + 1, 0, nil
}

// v1Addr parses an address of the line's family: dotted quad for TCP4 (no
// leading zeros), an IPv6 text form for TCP6 (an IPv4-mapped one included),
// never a zone.
func v1Addr(b []byte, fam Family) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	switch {
	case err != nil:
		return a, err
	case a.Zone() != "", fam == FamilyInet && !a.Is4(), fam == FamilyInet6 && !a.Is6():
		return netip.Addr{}, ErrV1Address
	}
	return a, nil
}

// v1Port parses a decimal port, 0..65535, without sign or leading zero.
func v1Port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return uint16(v), v <= 0xffff
}
