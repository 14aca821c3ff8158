package main

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/engine"
)

func TestLimitOptions(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name  string
		args  string
		check func(engine.Config) bool
		err   string
	}{
		{"defaults", "6080 h:1", func(c engine.Config) bool {
			return c.MaxConsolesPerClient == 1000 && c.MaxConsolesPerToken == 0 && c.HandshakeRate == 20 &&
				c.HandshakeBurst == 200 && c.ProxyProtocol == nil && c.ForwardedHeader == engine.HeaderXForwardedFor
		}, ""},
		{"zero is no limit", "--max-consoles-per-client 0 --handshake-rate 0 6080 h:1", func(c engine.Config) bool {
			return c.MaxConsolesPerClient < 0 && c.HandshakeRate < 0
		}, ""},
		{"proxy protocol CIDRs", "--proxy-protocol 10.0.0.0/8,192.0.2.7 --proxy-protocol 2001:db8::/32 6080 h:1", func(c engine.Config) bool {
			return len(c.ProxyProtocol) == 3 && c.ProxyProtocol[0] == pfx("10.0.0.0/8") &&
				c.ProxyProtocol[1] == pfx("192.0.2.7/32") && c.ProxyProtocol[2] == pfx("2001:db8::/32")
		}, ""},
		{"CIDR masked", "--trusted-proxy 10.1.2.3/8 6080 h:1", func(c engine.Config) bool {
			return len(c.TrustedProxies) == 1 && c.TrustedProxies[0] == pfx("10.0.0.0/8")
		}, ""},
		{"IPv4-mapped CIDR", "--trusted-proxy ::ffff:10.0.0.0/104 6080 h:1", func(c engine.Config) bool {
			return c.TrustedProxies[0] == pfx("10.0.0.0/8")
		}, ""},
		{"Forwarded", "--trusted-proxy-header Forwarded 6080 h:1", func(c engine.Config) bool {
			return c.ForwardedHeader == engine.HeaderForwarded
		}, ""},
		{"bad CIDR", "--proxy-protocol lb.example 6080 h:1", nil, "not a CIDR"},
		{"bad header", "--trusted-proxy-header X-Real-IP 6080 h:1", nil, "x-forwarded-for or forwarded"},
		{"negative", "--max-consoles-per-token -1 6080 h:1", nil, "0 or more"},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(strings.Fields(tt.args), io.Discard)
			var cfg engine.Config
			if err == nil {
				cfg, _, err = o.config(log)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
}

func TestSplitLimitArgs(t *testing.T) {
	tests := []struct {
		name string
		args string
		rest string
		ok   func(*limitOptions) bool
		err  string
	}{
		{"none: defaults", "--config-file /etc/nova/nova.conf --debug", "--config-file /etc/nova/nova.conf --debug",
			func(lo *limitOptions) bool { return lo.perClient == 1000 && lo.rate == 20 && lo.trustedProxies == nil }, ""},
		{"separate values", "--config-file n.conf --trusted-proxy 10.0.0.0/8 --max-consoles-per-token 4 --vnc-novncproxy_port 6080",
			"--config-file n.conf --vnc-novncproxy_port 6080",
			func(lo *limitOptions) bool { return lo.perToken == 4 && len(lo.trustedProxies) == 1 }, ""},
		{"= values", "--proxy-protocol=10.0.0.1,10.0.0.2 --handshake-rate=5 --config-file n.conf", "--config-file n.conf",
			func(lo *limitOptions) bool { return len(lo.proxyProtocol) == 2 && lo.rate == 5 }, ""},
		{"bad value", "--max-consoles-per-client many", "", nil, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rest, lo, err := splitLimitArgs(strings.Fields(tt.args))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err != nil || strings.Join(rest, " ") != tt.rest || !tt.ok(lo) {
				t.Fatalf("rest %q, options %+v, err %v", rest, lo, err)
			}
		})
	}
}
