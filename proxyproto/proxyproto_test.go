package proxyproto

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// cat joins annotated byte pieces into one input.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// sig is the v2 signature; the rest of each v2 case is written byte by byte.
var sig = []byte(v2Signature)

func TestParse(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		in   []byte
		want Header
		n    int // 0: need more (need > 0) or an error
		need int
		err  error
	}{
		// v1 (section 2.1).
		{name: "v1 TCP4", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /"),
			want: Header{Version: 1, Command: CommandProxy, Family: FamilyInet, Transport: TransportStream,
				Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")}, n: 45},
		{name: "v1 TCP6", in: []byte("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n"),
			want: Header{Version: 1, Command: CommandProxy, Family: FamilyInet6, Transport: TransportStream,
				Source: ap("[2001:db8::1]:0"), Destination: ap("[2001:db8::2]:65535")}, n: 44},
		{name: "v1 TCP6 IPv4-mapped", in: []byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"),
			want: Header{Version: 1, Command: CommandProxy, Family: FamilyInet6, Transport: TransportStream,
				Source: ap("[::ffff:192.0.2.1]:1"), Destination: ap("[::1]:2")}, n: 37},
		{name: "v1 UNKNOWN short", in: []byte("PROXY UNKNOWN\r\n"),
			want: Header{Version: 1, Command: CommandProxy}, n: 15},
		{name: "v1 UNKNOWN with ignored fields", in: []byte("PROXY UNKNOWN whatever 1 2 3\r\nX"),
			want: Header{Version: 1, Command: CommandProxy}, n: 30},
		{name: "v1 longest", in: []byte("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			want: Header{Version: 1, Command: CommandProxy}, n: 107},
		{name: "v1 one byte", in: []byte("P"), need: 15},
		{name: "v1 partial line", in: []byte("PROXY TCP4 192.0.2.1 1"), need: 23},
		{name: "v1 no CRLF in 107 bytes", in: []byte("PROXY UNKNOWN " + strings.Repeat("a", 93)), err: ErrTooLong},
		{name: "v1 LF without CR", in: []byte("PROXY UNKNOWN\n"), err: ErrV1Syntax},
		{name: "v1 lower case", in: []byte("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"), err: ErrNotProxy},
		{name: "v1 no space after PROXY", in: []byte("PROXYTCP4"), err: ErrNotProxy},
		{name: "v1 unknown protocol", in: []byte("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n"), err: ErrV1Syntax},
		{name: "v1 UNKNOWN glued", in: []byte("PROXY UNKNOWNX\r\n"), err: ErrV1Syntax},
		{name: "v1 double space", in: []byte("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n"), err: ErrV1Syntax},
		{name: "v1 field missing", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), err: ErrV1Syntax},
		{name: "v1 field too many", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n"), err: ErrV1Syntax},
		{name: "v1 trailing space", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n"), err: ErrV1Syntax},
		{name: "v1 IPv6 in TCP4", in: []byte("PROXY TCP4 ::1 ::1 1 2\r\n"), err: ErrV1Address},
		{name: "v1 IPv4 in TCP6", in: []byte("PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n"), err: ErrV1Address},
		{name: "v1 zone", in: []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), err: ErrV1Address},
		{name: "v1 leading zero in address", in: []byte("PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n"), err: ErrV1Address},
		{name: "v1 host name", in: []byte("PROXY TCP4 localhost 1.2.3.4 1 2\r\n"), err: ErrV1Address},
		{name: "v1 port leading zero", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.4 080 2\r\n"), err: ErrV1Port},
		{name: "v1 port over 65535", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n"), err: ErrV1Port},
		{name: "v1 port sign", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.4 +80 2\r\n"), err: ErrV1Port},

		// v2 (section 2.2).
		{name: "v2 PROXY TCP4", in: cat(sig,
			[]byte{0x21},                  // version 2, PROXY
			[]byte{0x11},                  // INET, STREAM
			[]byte{0x00, 0x0c},            // length 12
			[]byte{192, 0, 2, 1},          // source address
			[]byte{198, 51, 100, 2},       // destination address
			[]byte{0xdc, 0x04},            // source port 56324
			[]byte{0x01, 0xbb},            // destination port 443
			[]byte("GET / HTTP/1.1\r\n")), // the client's bytes
			want: Header{Version: 2, Command: CommandProxy, Family: FamilyInet, Transport: TransportStream,
				Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")}, n: 28},
		{name: "v2 PROXY TCP6 with TLVs", in: cat(sig,
			[]byte{0x21, 0x21, 0x00, 0x24 + 3 + 5 + 3}, // v2 PROXY, INET6 STREAM, length 36+11
			netip.MustParseAddr("2001:db8::1").AsSlice(),
			netip.MustParseAddr("2001:db8::2").AsSlice(),
			[]byte{0x00, 0x50, 0x01, 0xbb},     // ports 80, 443
			[]byte{0x04, 0x00, 0x00},           // PP2_TYPE_NOOP, empty
			[]byte{0x01, 0x00, 0x02, 'h', '2'}, // PP2_TYPE_ALPN "h2"
			[]byte{0x05, 0x00, 0x00}),          // PP2_TYPE_UNIQUE_ID, empty
			want: Header{Version: 2, Command: CommandProxy, Family: FamilyInet6, Transport: TransportStream,
				Source: ap("[2001:db8::1]:80"), Destination: ap("[2001:db8::2]:443")}, n: 16 + 47},
		{name: "v2 LOCAL health check", in: cat(sig,
			[]byte{0x20, 0x00, 0x00, 0x00}), // v2 LOCAL, UNSPEC, length 0
			want: Header{Version: 2, Command: CommandLocal}, n: 16},
		{name: "v2 LOCAL with an INET block is skipped", in: cat(sig,
			[]byte{0x20, 0x11, 0x00, 0x0c}, // v2 LOCAL, INET STREAM, 12
			make([]byte, 12)),
			want: Header{Version: 2, Command: CommandLocal, Family: FamilyInet, Transport: TransportStream}, n: 28},
		{name: "v2 LOCAL with a short block", in: cat(sig,
			[]byte{0x20, 0x11, 0x00, 0x02, 0xff, 0xff}), // LOCAL INET, 2 bytes: not an address, skipped
			want: Header{Version: 2, Command: CommandLocal, Family: FamilyInet, Transport: TransportStream}, n: 18},
		{name: "v2 PROXY UNSPEC keeps the socket address", in: cat(sig,
			[]byte{0x21, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00}), // PROXY UNSPEC, one NOOP TLV
			want: Header{Version: 2, Command: CommandProxy}, n: 19},
		{name: "v2 PROXY UNIX", in: cat(sig,
			[]byte{0x21, 0x31, 0x00, 0xd8}, // PROXY, UNIX STREAM, 216
			make([]byte, 216)),
			want: Header{Version: 2, Command: CommandProxy, Family: FamilyUnix, Transport: TransportStream}, n: 232},
		{name: "v2 PROXY UDP4", in: cat(sig,
			[]byte{0x21, 0x12, 0x00, 0x0c}, // PROXY, INET DGRAM, 12
			[]byte{10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2}),
			want: Header{Version: 2, Command: CommandProxy, Family: FamilyInet, Transport: TransportDgram,
				Source: ap("10.0.0.1:1"), Destination: ap("10.0.0.2:2")}, n: 28},
		{name: "v2 signature only", in: sig, need: 16},
		{name: "v2 half signature", in: sig[:5], need: 16},
		{name: "v2 fixed part, block missing", in: cat(sig, []byte{0x21, 0x11, 0x00, 0x0c}, []byte{1, 2}), need: 28},
		{name: "v2 bad signature", in: cat(sig[:11], []byte{'X'}), err: ErrNotProxy},
		{name: "v2 version 1", in: cat(sig, []byte{0x11, 0x11, 0x00, 0x0c}), err: ErrV2Version},
		{name: "v2 command 2", in: cat(sig, []byte{0x22, 0x11, 0x00, 0x0c}), err: ErrV2Command},
		{name: "v2 family 4", in: cat(sig, []byte{0x21, 0x41, 0x00, 0x0c}), err: ErrV2Family},
		{name: "v2 INET with transport UNSPEC", in: cat(sig, []byte{0x21, 0x10, 0x00, 0x0c}), err: ErrV2Family},
		{name: "v2 transport 3", in: cat(sig, []byte{0x21, 0x13, 0x00, 0x0c}), err: ErrV2Family},
		{name: "v2 length over the bound", in: cat(sig, []byte{0x21, 0x11, 0x10, 0x01}), err: ErrTooLong},
		{name: "v2 INET block too short", in: cat(sig, []byte{0x21, 0x11, 0x00, 0x08}, make([]byte, 8)), err: ErrV2Length},
		{name: "v2 TLV past the end", in: cat(sig,
			[]byte{0x21, 0x11, 0x00, 0x0c + 4}, make([]byte, 12),
			[]byte{0x01, 0x00, 0x05, 'x'}), // ALPN of 5 bytes, 1 present
			err: ErrV2TLV},
		{name: "v2 TLV header cut", in: cat(sig,
			[]byte{0x21, 0x11, 0x00, 0x0c + 2}, make([]byte, 12),
			[]byte{0x01, 0x00}), // 2 of 3 TLV header bytes
			err: ErrV2TLV},

		{name: "empty", in: nil, need: 1},
		{name: "HTTP request", in: []byte("GET / HTTP/1.1\r\n"), err: ErrNotProxy},
		{name: "TLS ClientHello", in: []byte{0x16, 0x03, 0x01, 0x02, 0x00}, err: ErrNotProxy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, need, err := Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if n != tt.n || need != tt.need {
				t.Fatalf("n=%d need=%d, want n=%d need=%d", n, need, tt.n, tt.need)
			}
			if h != tt.want {
				t.Fatalf("header %+v, want %+v", h, tt.want)
			}
		})
	}
}

func TestClient(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.1:5")
	tests := []struct {
		name string
		h    Header
		ok   bool
	}{
		{"PROXY INET", Header{Command: CommandProxy, Family: FamilyInet, Source: src}, true},
		{"PROXY INET6", Header{Command: CommandProxy, Family: FamilyInet6, Source: src}, true},
		{"LOCAL", Header{Command: CommandLocal, Family: FamilyInet, Source: src}, false},
		{"UNSPEC", Header{Command: CommandProxy}, false},
		{"UNIX", Header{Command: CommandProxy, Family: FamilyUnix}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.h.Client()
			if ok != tt.ok || (ok && got != src) {
				t.Fatalf("Client() = %v, %v", got, ok)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"v1", "PROXY TCP4 ...", true},
		{"v2", v2Signature + "\x21", true},
		{"v1 too short to tell", "PROXY", false},
		{"GET", "GET / HTTP/1.1", false},
		{"v2 cut", v2Signature[:11], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff([]byte(tt.in)); got != tt.want {
				t.Fatalf("Sniff = %v", got)
			}
		})
	}
}

// A v2 header parses without allocating: it is on the event loop's path.
func TestParseV2Allocs(t *testing.T) {
	in := cat(sig, []byte{0x21, 0x11, 0x00, 0x0c}, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2})
	if a := testing.AllocsPerRun(100, func() { _, _, _, _ = Parse(in) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"v1", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")},
		{"v2", cat(sig, []byte{0x21, 0x11, 0x00, 0x0c}, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_, _, _, _ = Parse(bc.in)
			}
		})
	}
}
