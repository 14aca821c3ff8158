package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/engine"
)

// TestFleetOptions: the fleet's options reach the engine and the cache.
func TestFleetOptions(t *testing.T) {
	tests := []struct {
		name  string
		args  string
		check func(engine.Config, time.Duration) bool
		err   string
	}{
		{"defaults", "--token-plugin TokenRedis --token-source r 6080", func(c engine.Config, h time.Duration) bool {
			ca := c.Resolver.(*auth.Cache)
			return c.RevokeCheck == 0 && !c.ReusePort && h == time.Hour && ca.TTL == 0 && ca.NegativeTTL == 0
		}, ""},
		{"revoke check", "--revoke-check 5 --token-plugin TokenFile --token-source /t 6080",
			func(c engine.Config, _ time.Duration) bool { return c.RevokeCheck == 5*time.Second }, ""},
		{"reuse port and handover", "--reuse-port --handover-timeout 30m 6080 h:1",
			func(c engine.Config, h time.Duration) bool { return c.ReusePort && h == 30*time.Minute }, ""},
		{"cache lifetimes", "--token-cache-ttl 500ms --token-negative-ttl -1s --token-plugin JSONTokenApi --token-source http://api/%s 6080",
			func(c engine.Config, _ time.Duration) bool {
				ca := c.Resolver.(*auth.Cache)
				return ca.TTL == 500*time.Millisecond && ca.NegativeTTL < 0
			}, ""},
		{"sentinel source", "--token-plugin TokenRedis --token-source redis-sentinel://a:26379,b:26379/m 6080",
			func(c engine.Config, _ time.Duration) bool { _, ok := c.Resolver.(*auth.Cache); return ok }, ""},
		{"bad sentinel source", "--token-plugin TokenRedis --token-source redis-sentinel://a/m 6080", nil, "HOST:PORT"},
		{"cluster source", "--token-plugin TokenRedis --token-source redis-cluster://a:7000,b:7000 6080",
			func(c engine.Config, _ time.Duration) bool { _, ok := c.Resolver.(*auth.Cache); return ok }, ""},
		{"bad cluster source", "--token-plugin TokenRedis --token-source redis-cluster://a:7000/3 6080", nil, "only db 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(strings.Fields(tt.args), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := o.config(nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.check(cfg, o.handover()) {
				t.Fatalf("config %+v, %v", cfg, err)
			}
		})
	}
}
