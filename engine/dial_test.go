package engine

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
)

// TestDialPaths: the console is connected from the loop whether the token
// was looked up on the loop (auth.Static, an ImmediateResolver) or on a
// worker (staticTarget): relaying, refused (502) and unanswered (504), with
// the dial counters and the pending count right after each.
func TestDialPaths(t *testing.T) {
	lookups := lookupPaths(t)
	consoles := []struct {
		name         string
		addr         func(t *testing.T, e *env) string
		status       int
		dialFailures uint64
	}{
		{"console answers", func(t *testing.T, e *env) string { return e.console.Addr() }, http.StatusSwitchingProtocols, 0},
		{"console refuses", func(t *testing.T, _ *env) string { return closedPort(t) }, http.StatusBadGateway, 1},
		{"console silent", func(t *testing.T, _ *env) string { return blackhole(t) }, http.StatusGatewayTimeout, 1},
	}
	for _, lk := range lookups {
		for _, cs := range consoles {
			t.Run(lk.name+"/"+cs.name, func(t *testing.T) {
				e := newEnv(t, rfb.ModeEcho, func(c *Config) {
					c.ConnectTimeout = 600 * time.Millisecond
				})
				if err := e.srv.Reload(withResolver(e.srv.Config(), lk.resolver(cs.addr(t, e)))); err != nil {
					t.Fatal(err)
				}
				w := e.dialRaw(upgradeRequest("/?token=" + canary))
				if w.status != cs.status {
					t.Fatalf("status %d %q, want %d", w.status, w.header, cs.status)
				}
				st := e.srv.Stats()
				if st.Dials != 1 || st.DialFailures != cs.dialFailures {
					t.Fatalf("dials %d, failures %d; want 1, %d", st.Dials, st.DialFailures, cs.dialFailures)
				}
				if cs.status == http.StatusSwitchingProtocols {
					w.rfbHandshake() // both directions relay
				}
				_ = w.c.Close()
				waitFor(t, "pending and connections back to 0", func() bool {
					st := e.srv.Stats()
					return st.Pending == 0 && st.Connections == 0
				})
			})
		}
	}
}

// lookupPath is a way the relay resolves a token: a resolver that sends
// every token to addr.
type lookupPath struct {
	name     string
	resolver func(addr string) auth.Resolver
}

// lookupPaths are the two paths of a lookup: on the loop (auth.Static
// answers at once) and on a worker (a resolver without ResolveNow).
func lookupPaths(t *testing.T) []lookupPath {
	return []lookupPath{
		{"lookup on the loop", func(addr string) auth.Resolver {
			tg, err := auth.ParseHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			return auth.Static{Target: tg}
		}},
		{"lookup on a worker", func(addr string) auth.Resolver { return staticTarget(addr) }},
	}
}

// withResolver returns cfg with its Resolver replaced.
func withResolver(cfg Config, r auth.Resolver) Config {
	cfg.Resolver = r
	return cfg
}

// TestDialNextAddress: a console named by a host with several addresses is
// tried address by address, as net.Dialer does: the first refuses, the
// second answers.
func TestDialNextAddress(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	_, port, err := net.SplitHostPort(e.console.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	// 127.0.0.2 is loopback too, with nothing listening on the port.
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host != "console.test" {
			t.Errorf("looked up %q", host)
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}, nil
	}
	t.Cleanup(func() { lookupNetIP = net.DefaultResolver.LookupNetIP })
	cfg := e.srv.Config()
	cfg.Resolver = auth.Static{Target: auth.Target{Network: "tcp", Address: "console.test:" + strconv.Itoa(p)}}
	if err := e.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	w := e.dialRaw(upgradeRequest("/?token=" + canary))
	if w.status != http.StatusSwitchingProtocols {
		t.Fatalf("status %d %q", w.status, w.header)
	}
	if st := e.srv.Stats(); st.Dials != 2 || st.DialFailures != 1 {
		t.Fatalf("dials %d, failures %d; want 2, 1", st.Dials, st.DialFailures)
	}
}

// TestSockaddrNow: the addresses the loop connects to without a lookup.
func TestSockaddrNow(t *testing.T) {
	cases := []struct {
		name, network, address string
		want                   unix.Sockaddr // nil: a lookup is needed
	}{
		{"IPv4", "tcp", "10.0.0.1:5900", &unix.SockaddrInet4{Port: 5900, Addr: [4]byte{10, 0, 0, 1}}},
		{"IPv6", "tcp", "[::1]:5901", &unix.SockaddrInet6{Port: 5901, Addr: netip.IPv6Loopback().As16()}},
		{"IPv4-mapped IPv6", "tcp", "[::ffff:10.0.0.1]:5900", &unix.SockaddrInet4{Port: 5900, Addr: [4]byte{10, 0, 0, 1}}},
		{"unix socket", "unix", "/run/vm/1.sock", &unix.SockaddrUnix{Name: "/run/vm/1.sock"}},
		{"host name", "tcp", "compute1:5900", nil},
		{"IPv6 zone", "tcp", "[fe80::1%eth0]:5900", nil},
		{"port name", "tcp", "10.0.0.1:vnc", nil},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := sockaddrNow(&auth.Target{Network: tt.network, Address: tt.address})
			switch want := tt.want.(type) {
			case nil:
				if got != nil {
					t.Fatalf("got %#v, want a lookup", got)
				}
			case *unix.SockaddrInet4:
				if g, ok := got.(*unix.SockaddrInet4); !ok || g.Port != want.Port || g.Addr != want.Addr {
					t.Fatalf("got %#v, want %#v", got, want)
				}
			case *unix.SockaddrInet6:
				if g, ok := got.(*unix.SockaddrInet6); !ok || g.Port != want.Port || g.Addr != want.Addr {
					t.Fatalf("got %#v, want %#v", got, want)
				}
			case *unix.SockaddrUnix:
				if g, ok := got.(*unix.SockaddrUnix); !ok || g.Name != want.Name {
					t.Fatalf("got %#v, want %#v", got, want)
				}
			}
		})
	}
}

// TestBrowserLeavesWhileConnecting: a browser that closes or resets its
// socket while the console's connect is still unanswered ends the attempt
// at once, counted as gone, not refused at the connect deadline (which is
// far beyond waitFor's). The relay keeps reading the browser during the
// connect for that, and pauses it only when bytes follow the request
// (TestFirstFrameWithRequest).
func TestBrowserLeavesWhileConnecting(t *testing.T) {
	leaves := []struct {
		name  string
		leave func(c *net.TCPConn) error
	}{
		{"closes", func(c *net.TCPConn) error { return c.Close() }},
		{"resets", func(c *net.TCPConn) error {
			if err := c.SetLinger(0); err != nil {
				return err
			}
			return c.Close()
		}},
	}
	lookups := lookupPaths(t)
	for _, lk := range lookups {
		for _, lv := range leaves {
			t.Run(lk.name+"/"+lv.name, func(t *testing.T) {
				e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.ConnectTimeout = time.Minute })
				if err := e.srv.Reload(withResolver(e.srv.Config(), lk.resolver(blackhole(t)))); err != nil {
					t.Fatal(err)
				}
				c, err := net.Dial("tcp", e.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := io.WriteString(c, upgradeRequest("/?token="+canary)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the connect in progress", func() bool { return e.srv.Stats().Dials == 1 })
				if err := lv.leave(c.(*net.TCPConn)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "pending and connections back to 0", func() bool {
					st := e.srv.Stats()
					return st.Pending == 0 && st.Connections == 0
				})
				st := e.srv.Stats()
				if st.Closed[ReasonBrowserGone] != 1 || st.Refused != 0 || st.Opened != 0 {
					t.Fatalf("browser gone %d, refused %d, opened %d; want 1, 0, 0",
						st.Closed[ReasonBrowserGone], st.Refused, st.Opened)
				}
			})
		}
	}
}
