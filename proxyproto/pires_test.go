package proxyproto

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"testing"

	pires "github.com/pires/go-proxyproto"
)

// pires runs github.com/pires/go-proxyproto, a maintained implementation,
// on the same bytes: whether it takes a header, and the client address it
// gives when the header carries one (ok false: keep the socket's).
func piresParse(b []byte) (accepted bool, client netip.AddrPort, ok bool) {
	hdr, err := pires.Read(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return false, client, false
	}
	if hdr.Command == pires.PROXY && hdr.Version == 2 {
		// pires keeps TLVs raw and checks them when asked.
		if _, err := hdr.TLVs(); err != nil {
			return false, client, false
		}
	}
	if !hdr.Command.IsProxy() {
		return true, client, false
	}
	var ip net.IP
	var port int
	switch a := hdr.SourceAddr.(type) {
	case *net.TCPAddr:
		ip, port = a.IP, a.Port
	case *net.UDPAddr:
		ip, port = a.IP, a.Port
	default:
		return true, client, false
	}
	addr, _ := netip.AddrFromSlice(ip)
	return true, netip.AddrPortFrom(addr, uint16(port)), true
}

// differ compares Parse with pires on b and returns what differs, or "".
// Documented differences, where Parse follows the specification and pires
// does not, are not differences:
//   - a v2 PROXY command with the UNSPEC family: the specification says the
//     receiver accepts it and keeps the socket's addresses; pires refuses it.
//   - a v2 LOCAL header's block is skipped unread (the specification: the
//     receiver "must not assume" anything of it); pires decodes and checks
//     its TLVs when the block fits the family.
//   - a valid beginning: Parse asks for more bytes, pires fails at EOF.
func differ(b []byte) string {
	h, n, _, err := Parse(b)
	accepted, pclient, pok := piresParse(b)
	switch {
	case err == nil && n == 0:
		if accepted {
			return "Parse needs more bytes, pires took a header"
		}
		return ""
	case err != nil && accepted:
		return "Parse refused (" + err.Error() + "), pires took a header"
	case err != nil:
		return ""
	case !accepted:
		if h.Version == 2 && (h.Command == CommandLocal || h.Family == FamilyUnspec) {
			return ""
		}
		return "Parse took a header, pires refused it"
	}
	client, ok := h.Client()
	if ok != pok || client != pclient {
		return "client " + client.String() + " vs pires " + pclient.String()
	}
	return ""
}

// TestPires runs the table of TestParse and more through both parsers.
func TestPires(t *testing.T) {
	inputs := [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
		[]byte("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n"),
		[]byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY UNKNOWN x y\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 080 2\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n"),
		[]byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"),
		cat(sig, []byte{0x21, 0x11, 0x00, 0x0c}, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2}),
		cat(sig, []byte{0x21, 0x12, 0x00, 0x0c}, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2}),
		cat(sig, []byte{0x21, 0x21, 0x00, 0x27}, make([]byte, 36), []byte{0x04, 0x00, 0x00}),
		cat(sig, []byte{0x21, 0x21, 0x00, 0x26}, make([]byte, 36), []byte{0x04, 0x00}),
		cat(sig, []byte{0x20, 0x00, 0x00, 0x00}),
		cat(sig, []byte{0x21, 0x31, 0x00, 0xd8}, make([]byte, 216)),
		cat(sig, []byte{0x22, 0x11, 0x00, 0x0c}, make([]byte, 12)),
		cat(sig, []byte{0x21, 0x13, 0x00, 0x0c}, make([]byte, 12)),
		cat(sig, []byte{0x21, 0x11, 0x10, 0x01}, make([]byte, 4097)),
		cat(sig, []byte{0x21, 0x11, 0x00, 0x08}, make([]byte, 8)),
	}
	for _, in := range inputs {
		if d := differ(in); d != "" {
			t.Errorf("%q: %s", in, d)
		}
	}
}

// FuzzPires is the differential fuzz target: Parse and pires agree on any
// bytes, but for the documented differences (see differ).
func FuzzPires(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if d := differ(b); d != "" {
			t.Fatalf("%q: %s", b, d)
		}
	})
}
