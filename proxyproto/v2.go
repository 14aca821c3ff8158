package proxyproto

import (
	"encoding/binary"
	"net/netip"
)

// parseV2 reads a v2 header (section 2.2):
//
//	bytes 0-11  signature \r\n\r\n\0\r\nQUIT\n
//	byte  12    version (high nibble, 2) and command (low: 0 LOCAL, 1 PROXY)
//	byte  13    family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and
//	            transport (low: 0 UNSPEC, 1 STREAM, 2 DGRAM)
//	bytes 14-15 length of what follows, big-endian
//	then        the family's address block, then TLVs to the end
//
// b starts with (a prefix of) the signature.
func parseV2(b []byte) (h Header, n, need int, err error) {
	if len(b) < V2FixedLen {
		return h, 0, V2FixedLen, nil
	}
	if b[12]>>4 != 2 {
		return h, 0, 0, ErrV2Version
	}
	cmd := Command(b[12] & 0x0f)
	if cmd != CommandLocal && cmd != CommandProxy {
		return h, 0, 0, ErrV2Command
	}
	fam, tr := Family(b[13]>>4), Transport(b[13]&0x0f)
	// Only these pairs are defined; "other values ... must be rejected as
	// invalid by receivers".
	if !(fam == FamilyUnspec && tr == TransportUnspec) &&
		!(fam <= FamilyUnix && fam != FamilyUnspec && (tr == TransportStream || tr == TransportDgram)) {
		return h, 0, 0, ErrV2Family
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if length > MaxV2Payload {
		return h, 0, 0, ErrTooLong
	}
	total := V2FixedLen + length
	if len(b) < total {
		return h, 0, total, nil
	}
	h.Version, h.Command, h.Family, h.Transport = 2, cmd, fam, tr
	if cmd == CommandLocal {
		// The receiver keeps the socket's addresses and skips the block
		// whatever its length (it "must not assume zero is presented").
		return h, total, 0, nil
	}
	block := b[V2FixedLen:total]
	var alen int
	switch fam {
	case FamilyUnspec:
		// Accepted, with the socket's addresses; the block is skipped.
		return h, total, 0, nil
	case FamilyInet:
		alen = v2InetLen
	case FamilyInet6:
		alen = v2Inet6Len
	case FamilyUnix:
		alen = v2UnixLen
	}
	if length < alen {
		return Header{}, 0, 0, ErrV2Length
	}
	switch fam {
	case FamilyInet:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(block[0:4])), binary.BigEndian.Uint16(block[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(block[4:8])), binary.BigEndian.Uint16(block[10:12]))
	case FamilyInet6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(block[0:16])), binary.BigEndian.Uint16(block[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(block[16:32])), binary.BigEndian.Uint16(block[34:36]))
	}
	if !tlvsFit(block[alen:]) {
		return Header{}, 0, 0, ErrV2TLV
	}
	return h, total, 0, nil
}

// tlvsFit reports whether b is a sequence of whole TLVs (section 2.2.7):
// type (1 byte), length (2, big-endian), value. Their values are skipped.
func tlvsFit(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 3 {
			return false
		}
		l := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if l > len(b) {
			return false
		}
		b = b[l:]
	}
	return true
}
