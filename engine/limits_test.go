package engine

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
)

// dialAs opens an upgrade through a PROXY v1 header that names client as
// the connection's source (the relay trusts loopback for it).
func (e *env) dialAs(client, token string) *wsClient {
	e.t.Helper()
	hdr := "PROXY TCP4 " + client + " 198.51.100.1 40000 443\r\n"
	return e.dialPieces([]byte(hdr + upgradeRequest("/websockify?token="+token)))
}

func TestLimitConsolesPerClient(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.ProxyProtocol = loopback
		c.MaxConsolesPerClient = 2
	})
	a1, a2 := e.dialAs("192.0.2.1", canary), e.dialAs("192.0.2.1", canary)
	for _, w := range []*wsClient{a1, a2} {
		if w.status != 101 {
			t.Fatalf("status %d", w.status)
		}
	}
	dials := e.srv.Stats().Dials
	over := e.dialAs("192.0.2.1", canary)
	if over.status != 429 || headerValue(over.header, "Retry-After") == "" {
		t.Fatalf("third console: %d %q", over.status, over.header)
	}
	if got := e.srv.Stats().Dials; got != dials {
		t.Fatalf("a refused console was dialed (%d dials, %d before)", got, dials)
	}
	// Another client is not affected.
	if b := e.dialAs("192.0.2.2", canary); b.status != 101 {
		t.Fatalf("other client: %d", b.status)
	}
	e.waitLog(t, `reason="too many consoles from this address" token_mask=`+auth.Mask(canary))
	// A console ending gives its slot back.
	_ = a1.c.Close()
	waitFor(t, "a slot back", func() bool { return e.srv.Stats().Consoles == 2 })
	if w := e.dialAs("192.0.2.1", canary); w.status != 101 {
		t.Fatalf("after a close: %d", w.status)
	}
}

// Direct loopback connections are not limited per client.
func TestLimitLoopbackExempt(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.MaxConsolesPerClient = 1; c.HandshakeRate, c.HandshakeBurst = 1, 1 })
	for range 3 {
		e.dial()
	}
}

func TestLimitHandshakeRate(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.ProxyProtocol = loopback
		c.HandshakeRate, c.HandshakeBurst = 0.1, 2 // one every 10 s, two at once
	})
	for range 2 {
		if w := e.dialAs("192.0.2.1", canary); w.status != 101 {
			t.Fatalf("status %d", w.status)
		}
	}
	w := e.dialAs("192.0.2.1", canary)
	ra, _ := strconv.Atoi(headerValue(w.header, "Retry-After"))
	if w.status != 429 || ra < 1 || ra > 10 {
		t.Fatalf("over the rate: %d %q", w.status, w.header)
	}
	if b := e.dialAs("192.0.2.2", canary); b.status != 101 {
		t.Fatalf("other client: %d", b.status)
	}
	// Refused handshakes count too: a client that keeps trying waits longer.
	w = e.dialAs("192.0.2.1", canary)
	if w.status != 429 {
		t.Fatalf("retry: %d", w.status)
	}
}

func TestLimitConsolesPerToken(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.ProxyProtocol = loopback
		c.MaxConsolesPerToken = 1
	})
	if w := e.dialAs("192.0.2.1", canary); w.status != 101 {
		t.Fatalf("status %d", w.status)
	}
	dials := e.srv.Stats().Dials
	w := e.dialAs("192.0.2.2", canary)
	if w.status != 429 || headerValue(w.header, ReasonHeader) != errTokenConsoles.Reason {
		t.Fatalf("second console with the token: %d %q", w.status, w.header)
	}
	if got := e.srv.Stats().Dials; got != dials {
		t.Fatalf("a refused console was dialed")
	}
	e.waitLog(t, "token_mask=")
	if !strings.Contains(e.logs.String(), `reason="too many consoles for this token"`) {
		t.Fatalf("no refusal in the log:\n%s", e.logs.String())
	}
	// An unknown token is a 403, not a slot taken.
	if w := e.dialAs("192.0.2.3", "other"); w.status != 403 {
		t.Fatalf("unknown token: %d", w.status)
	}
}

// A console that fails to dial gives its token slot back.
func TestLimitTokenSlotReleasedOnDialFailure(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.ProxyProtocol = loopback
		c.MaxConsolesPerToken = 1
	})
	_ = e.console.Close()
	for range 2 {
		if w := e.dialAs("192.0.2.1", canary); w.status != 502 {
			t.Fatalf("status %d", w.status)
		}
	}
	waitFor(t, "table empty", func() bool { return e.srv.limits.size() <= 1 })
}

func TestClientKey(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"IPv4 addresses apart", "192.0.2.1", "192.0.2.2", false},
		{"IPv6 in one /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"IPv6 in two /64s", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"IPv4-mapped is IPv4", "::ffff:192.0.2.1", "192.0.2.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := clientKey(netip.MustParseAddr(tt.a)), clientKey(netip.MustParseAddr(tt.b))
			if (ka == kb) != tt.same {
				t.Fatalf("%v vs %v", ka, kb)
			}
		})
	}
}

// The table stays bounded when many addresses each leave a rate debt, and
// empties once the debts have run out.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(&Config{MaxConsolesPerClient: 10, HandshakeRate: 1, HandshakeBurst: 5})
	now := time.Now().UnixNano()
	for i := range 200000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		e, refusal := l.admitClient(a, now)
		if refusal != nil {
			t.Fatalf("refused %v: %v", a, refusal)
		}
		l.release(e, now)
	}
	if n := l.size(); n > limitShards*limitShardIdle+limitShards {
		t.Fatalf("%d entries", n)
	}
	later := now + int64(time.Minute)
	for range limitShards {
		l.prune(later)
	}
	if n := l.size(); n != 0 {
		t.Fatalf("%d entries after the debts ran out", n)
	}
	// Held slots are never evicted, whatever the churn.
	held, _ := l.admitClient(netip.MustParseAddr("192.0.2.1"), later)
	for i := range 100000 {
		e, _ := l.admitClient(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), later)
		l.release(e, later)
	}
	if got := l.shards[held.shard].m[held.key]; got != held {
		t.Fatal("an entry holding a console was evicted")
	}
}

func TestTokenKey(t *testing.T) {
	l, m := newLimiter(&Config{}), newLimiter(&Config{})
	k := l.tokenKey(canary)
	if k != l.tokenKey(canary) || k == l.tokenKey(canary+"x") || k == m.tokenKey(canary) {
		t.Fatal("token key not a keyed function of the token")
	}
	if strings.Contains(string(k.token[:]), canary[:8]) {
		t.Fatal("token in its key")
	}
}

func BenchmarkAdmitClient(b *testing.B) {
	l := newLimiter(&Config{MaxConsolesPerClient: 1000, HandshakeRate: 1e4, HandshakeBurst: 200})
	a := netip.MustParseAddr("192.0.2.1")
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for range b.N {
		now += int64(time.Millisecond) // under the rate: every handshake admitted
		e, refusal := l.admitClient(a, now)
		if refusal != nil {
			b.Fatal(refusal)
		}
		l.release(e, now)
	}
}

// IPv6 clients count per /64: two addresses of one /64 share a limit, an
// address of the next /64 does not.
func TestLimitIPv6Per64(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.ProxyProtocol = loopback
		c.MaxConsolesPerClient = 1
	})
	lb := netip.MustParseAddrPort("[2001:db8::1]:443")
	up := []byte(upgradeRequest("/websockify?token=" + canary))
	dial := func(src string) int {
		return e.dialPieces(append(v2Header(netip.MustParseAddrPort(src), lb), up...)).status
	}
	if st := dial("[2001:db8:0:7::1]:1000"); st != 101 {
		t.Fatalf("first: %d", st)
	}
	if st := dial("[2001:db8:0:7:ffff::2]:1000"); st != 429 {
		t.Fatalf("same /64: %d", st)
	}
	if st := dial("[2001:db8:0:8::1]:1000"); st != 101 {
		t.Fatalf("next /64: %d", st)
	}
}

// BenchmarkConnect: one upgrade answered 101 and closed, per iteration,
// straight from loopback, and through PROXY v1 and v2 headers from a
// trusted source (so with the per-client limits counted).
func BenchmarkConnect(b *testing.B) {
	up := []byte(upgradeRequest("/websockify?token=" + canary))
	src, dst := netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2")
	for _, bc := range []struct {
		name   string
		prefix []byte
	}{
		{"direct", nil},
		{"proxy-v1", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n")},
		{"proxy-v2", v2Header(src, dst)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, rfb.ModeEcho, func(c *Config) {
				c.Logger = discardLogger()
				c.ProxyProtocol = loopback
				c.HandshakeRate = -1 // measure the path, not the bucket
				if bc.prefix == nil {
					c.ProxyProtocol = nil
				}
			})
			req := append(append([]byte(nil), bc.prefix...), up...)
			b.ResetTimer()
			for range b.N {
				c, err := net.Dial("tcp", e.addr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if w := readResponse(b, c); w.status != 101 {
					b.Fatalf("status %d", w.status)
				}
				_ = c.Close()
			}
			b.StopTimer()
			waitForB(b, func() bool { return e.srv.Stats().Connections == 0 })
		})
	}
}

// waitForB polls cond for up to 5 s.
func waitForB(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}
