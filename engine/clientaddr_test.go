package engine

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// v2Header builds a PROXY v2 header, PROXY command, TCP over IPv4 or IPv6,
// from src to dst.
func v2Header(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21) // version 2, PROXY
	if src.Addr().Is4() {
		b = append(b, 0x11, 0, 12) // INET, STREAM; length 12
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(append(b, s[:]...), d[:]...)
	} else {
		b = append(b, 0x21, 0, 36) // INET6, STREAM; length 36
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(append(b, s[:]...), d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// dialPieces connects, writes each piece with a pause between (so that
// they arrive as separate reads), and reads the response head.
func (e *env) dialPieces(pieces ...[]byte) *wsClient {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	for i, p := range pieces {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := c.Write(p); err != nil {
			e.t.Fatal(err)
		}
	}
	return readResponse(e.t, c)
}

// waitLog waits until the relay's log holds want.
func (e *env) waitLog(t *testing.T, want string) {
	t.Helper()
	waitFor(t, "log line with "+want, func() bool { return strings.Contains(e.logs.String(), want) })
}

func TestProxyProtocol(t *testing.T) {
	up := []byte(upgradeRequest("/websockify?token=" + canary))
	v1 := []byte("PROXY TCP4 192.0.2.10 198.51.100.1 5555 443\r\n")
	v2 := v2Header(netip.MustParseAddrPort("192.0.2.11:6666"), netip.MustParseAddrPort("198.51.100.1:443"))
	v26 := v2Header(netip.MustParseAddrPort("[2001:db8::7]:7777"), netip.MustParseAddrPort("[2001:db8::1]:443"))
	local := []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00") // v2 LOCAL, UNSPEC, length 0
	tests := []struct {
		name   string
		pieces [][]byte
		status int
		client string // in the log line; "" when the socket's own
	}{
		{"v1 then request in one write", [][]byte{append(append([]byte(nil), v1...), up...)}, 101, "client=192.0.2.10:5555"},
		{"v2 then request in one write", [][]byte{append(append([]byte(nil), v2...), up...)}, 101, "client=192.0.2.11:6666"},
		{"v2 IPv6", [][]byte{v26, up}, 101, "client=[2001:db8::7]:7777"},
		{"v1 in pieces", [][]byte{v1[:3], v1[3:20], v1[20:], up}, 101, "client=192.0.2.10:5555"},
		{"v2 in pieces", [][]byte{v2[:7], v2[7:17], v2[17:], up}, 101, "client=192.0.2.11:6666"},
		{"v2 LOCAL keeps the socket address", [][]byte{local, up}, 101, "client=127.0.0.1:"},
		{"v1 UNKNOWN keeps the socket address", [][]byte{[]byte("PROXY UNKNOWN\r\n"), up}, 101, "client=127.0.0.1:"},
		{"no header from a trusted source", [][]byte{up}, 400, ""},
		{"bad header", [][]byte{[]byte("PROXY TCP4 192.0.2.1 nope 1 2\r\n"), up}, 400, ""},
		{"v1 without CRLF", [][]byte{[]byte("PROXY UNKNOWN " + strings.Repeat("x", 120))}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.ProxyProtocol = loopback })
			w := e.dialPieces(tt.pieces...)
			if w.status != tt.status {
				t.Fatalf("status %d %q, want %d", w.status, w.header, tt.status)
			}
			if tt.status != 101 {
				if r := headerValue(w.header, ReasonHeader); !strings.Contains(r, "PROXY") {
					t.Fatalf("reason %q", r)
				}
				return
			}
			w.rfbHandshake()
			e.waitLog(t, "console open")
			for _, line := range strings.Split(e.logs.String(), "\n") {
				if strings.Contains(line, "console open") && !strings.Contains(line, tt.client) {
					t.Fatalf("log line %q lacks %q", line, tt.client)
				}
			}
		})
	}
}

// A PROXY header from a source not listed is refused, never honoured.
func TestProxyProtocolUntrusted(t *testing.T) {
	for _, trusted := range [][]netip.Prefix{nil, {netip.MustParsePrefix("10.0.0.0/8")}} {
		e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.ProxyProtocol = trusted })
		for _, hdr := range [][]byte{
			[]byte("PROXY TCP4 192.0.2.10 198.51.100.1 5555 443\r\n"),
			v2Header(netip.MustParseAddrPort("192.0.2.11:6666"), netip.MustParseAddrPort("198.51.100.1:443")),
		} {
			w := e.dialPieces(append(hdr, upgradeRequest("/websockify?token="+canary)...))
			if w.status != 400 || headerValue(w.header, ReasonHeader) != errProxyUntrusted.Reason {
				t.Fatalf("trusted %v: %d %q", trusted, w.status, w.header)
			}
		}
		if st := e.srv.Stats(); st.Dials != 0 {
			t.Fatalf("dials %d", st.Dials)
		}
	}
}

func TestForwardedFor(t *testing.T) {
	tests := []struct {
		name    string
		trusted []netip.Prefix
		which   ForwardedHeader
		headers []string
		client  string
	}{
		{"X-Forwarded-For from a trusted proxy", loopback, HeaderXForwardedFor,
			[]string{"X-Forwarded-For: 203.0.113.9, 198.51.100.7"}, "client=198.51.100.7 "},
		{"trusted hops skipped", loopback, HeaderXForwardedFor,
			[]string{"X-Forwarded-For: 198.51.100.7", "x-forwarded-for: 127.0.0.9"}, "client=198.51.100.7 "},
		{"Forwarded", loopback, HeaderForwarded,
			[]string{`Forwarded: for="[2001:db8::5]:4711";proto=https`}, "client=2001:db8::5 "},
		{"the other header is ignored", loopback, HeaderForwarded,
			[]string{"X-Forwarded-For: 198.51.100.7"}, "client=127.0.0.1:"},
		{"untrusted peer", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, HeaderXForwardedFor,
			[]string{"X-Forwarded-For: 198.51.100.7"}, "client=127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.TrustedProxies, c.ForwardedHeader = tt.trusted, tt.which })
			w := e.dialRaw(upgradeRequest("/websockify?token="+canary, tt.headers...))
			if w.status != 101 {
				t.Fatalf("status %d", w.status)
			}
			w.rfbHandshake()
			e.waitLog(t, "console open")
			if !strings.Contains(e.logs.String(), tt.client) {
				t.Fatalf("log lacks %q:\n%s", tt.client, e.logs.String())
			}
		})
	}
}

func TestForwardedClient(t *testing.T) {
	trusted := prefixes{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	head := func(lines ...string) []byte {
		return []byte("GET / HTTP/1.1\r\nHost: x\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n")
	}
	tests := []struct {
		name  string
		which ForwardedHeader
		head  []byte
		want  string // "" when no address
	}{
		{"none", HeaderXForwardedFor, head(), ""},
		{"one", HeaderXForwardedFor, head("X-Forwarded-For: 192.0.2.1"), "192.0.2.1"},
		{"rightmost untrusted", HeaderXForwardedFor, head("X-Forwarded-For: 6.6.6.6, 192.0.2.1, 10.0.0.2"), "192.0.2.1"},
		{"spoofed left part ignored", HeaderXForwardedFor, head("X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 192.0.2.1"), "192.0.2.1"},
		{"all trusted: leftmost", HeaderXForwardedFor, head("X-Forwarded-For: 10.0.0.1, 10.0.0.2"), "10.0.0.1"},
		{"port and brackets", HeaderXForwardedFor, head("X-Forwarded-For: [2001:db8::1]:80, 192.0.2.1:443"), "192.0.2.1"},
		{"IPv6 bare", HeaderXForwardedFor, head("X-Forwarded-For: 2001:db8::1"), "2001:db8::1"},
		{"IPv4-mapped", HeaderXForwardedFor, head("X-Forwarded-For: ::ffff:192.0.2.1"), "192.0.2.1"},
		{"garbage rightmost", HeaderXForwardedFor, head("X-Forwarded-For: 192.0.2.1, nope"), ""},
		{"garbage behind the client", HeaderXForwardedFor, head("X-Forwarded-For: nope, 192.0.2.1, 10.0.0.3"), "192.0.2.1"},
		{"garbage behind trusted", HeaderXForwardedFor, head("X-Forwarded-For: nope, 10.0.0.3"), "10.0.0.3"},
		{"empty elements", HeaderXForwardedFor, head("X-Forwarded-For: , 192.0.2.1 ,"), "192.0.2.1"},
		{"zone refused", HeaderXForwardedFor, head("X-Forwarded-For: fe80::1%eth0"), ""},
		{"name case", HeaderXForwardedFor, head("x-FORWARDED-for: 192.0.2.1"), "192.0.2.1"},
		{"similar name", HeaderXForwardedFor, head("X-Forwarded-For-Not: 192.0.2.1"), ""},
		{"Forwarded for", HeaderForwarded, head("Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60"},
		{"Forwarded quoted IPv6", HeaderForwarded, head(`Forwarded: For="[2001:db8:cafe::17]:4711"`), "2001:db8:cafe::17"},
		{"Forwarded list", HeaderForwarded, head("Forwarded: for=192.0.2.43, for=198.51.100.17;by=x, for=10.0.0.1"), "198.51.100.17"},
		{"Forwarded comma in quotes", HeaderForwarded, head(`Forwarded: for=192.0.2.43;x="a,b", for=10.0.0.1`), "192.0.2.43"},
		{"Forwarded unknown", HeaderForwarded, head("Forwarded: for=unknown"), ""},
		{"Forwarded obfuscated behind trusted", HeaderForwarded, head("Forwarded: for=_hidden, for=10.0.0.1"), "10.0.0.1"},
		{"Forwarded without for", HeaderForwarded, head("Forwarded: proto=https"), ""},
		{"Forwarded cut quote", HeaderForwarded, head(`Forwarded: for="192.0.2.1`), ""},
		{"Forwarded escaped", HeaderForwarded, head(`Forwarded: for="192.0.2.\1"`), "192.0.2.1"},
		{"trusted IPv6 range", HeaderXForwardedFor, head("X-Forwarded-For: 192.0.2.1, 2001:db8:ffff::9"), "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := forwardedClient(tt.head, tt.which, trusted)
			got := ""
			if ok {
				got = a.String()
			}
			if got != tt.want {
				t.Fatalf("client %q, want %q", got, tt.want)
			}
		})
	}
}

// A forwarded list longer than maxForwardedHops: only the rightmost hops
// are looked at.
func TestForwardedClientLong(t *testing.T) {
	trusted := prefixes{netip.MustParsePrefix("10.0.0.0/8")}
	var b bytes.Buffer
	b.WriteString("GET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1")
	for range 100 {
		b.WriteString(", 10.0.0.1")
	}
	b.WriteString("\r\n\r\n")
	a, ok := forwardedClient(b.Bytes(), HeaderXForwardedFor, trusted)
	if !ok || a.String() != "10.0.0.1" {
		t.Fatalf("%v %v", a, ok)
	}
}

func FuzzForwardedClient(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1, [2001:db8::1]:80\r\n\r\n"), false)
	f.Add([]byte("GET / HTTP/1.1\r\nForwarded: for=\"[2001:db8::1]:80\";by=x, for=10.0.0.1\r\n\r\n"), true)
	f.Add([]byte("GET / HTTP/1.1\r\nForwarded: for=\"\\\"\r\n\r\n"), true)
	trusted := prefixes{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, head []byte, fwd bool) {
		which := HeaderXForwardedFor
		if fwd {
			which = HeaderForwarded
		}
		a, ok := forwardedClient(head, which, trusted)
		if ok && (!a.IsValid() || a.Zone() != "" || a.Is4In6()) {
			t.Fatalf("address %v", a)
		}
	})
}

// A PROXY header that never completes is a slow request: 408 at the
// handshake deadline, like a request head.
func TestProxyProtocolSlowHeader(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.ProxyProtocol = loopback
		c.HandshakeTimeout = 300 * time.Millisecond
	})
	hdr := v2Header(netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2"))
	if w := e.dialPieces(hdr[:20]); w.status != 408 {
		t.Fatalf("status %d", w.status)
	}
}
