package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// echoes sends p on an open console and checks it comes back byte-exact.
func echoes(t *testing.T, w *wsClient, p []byte) {
	t.Helper()
	w.send(p)
	if got := w.readData(len(p)); !bytes.Equal(got, p) {
		t.Fatalf("echo: got %q, want %q", got, p)
	}
}

// TestReload: a reload changes the origin check, the web root and the
// per-token limit for new requests while a console opened before it keeps
// relaying.
func TestReload(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>home</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rfb.ModeEcho, nil)
	old := e.dial()
	old.rfbHandshake()
	echoes(t, old, []byte("before the reload"))

	foreign := "Origin: https://evil.example"
	if w := e.dialRaw(upgradeRequest("/?token="+canary, foreign)); w.status != 101 {
		t.Fatalf("before: foreign origin got %d, want 101 (no origin check yet)", w.status)
	}
	if w := e.dialRaw("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"); w.status != http.StatusMethodNotAllowed {
		t.Fatalf("before: GET got %d, want 405 (no web root yet)", w.status)
	}

	cfg := e.srv.Config()
	cfg.Origins = &auth.OriginPolicy{Allowed: []string{"novnc.example"}}
	cfg.WebDir = root
	cfg.MaxConsolesPerToken = 1 // consoles opened before the limit was on are not counted
	if err := e.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	echoes(t, old, []byte("after the reload, same console"))

	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"foreign origin refused", upgradeRequest("/?token="+canary, foreign), http.StatusForbidden},
		{"web root served", "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusOK},
		{"allowed origin opens", upgradeRequest("/?token="+canary, "Origin: https://novnc.example"), 101},
		{"token limit reached", upgradeRequest("/?token="+canary, "Origin: https://novnc.example"), http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := e.dialRaw(tt.req); w.status != tt.status {
				t.Fatalf("got %d, want %d", w.status, tt.status)
			}
		})
	}
	echoes(t, old, []byte("still relaying"))
	if got := e.srv.Config(); got.WebDir != root || got.Origins != cfg.Origins {
		t.Errorf("Config() does not show the reloaded fields: web %q", got.WebDir)
	}
}

// TestReloadRefused: a reload that changes a restart-only field, or has no
// resolver, changes nothing and says why.
func TestReloadRefused(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	old := e.dial()
	old.rfbHandshake()

	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"listen and loops", func(c *Config) { c.Listen, c.Loops = "127.0.0.1:1", 7 }, []string{"Listen", "Loops", "needs a restart"}},
		{"TLS on", func(c *Config) { c.TLS = &tls.Config{MinVersion: tls.VersionTLS12} }, []string{"TLS", "needs a restart"}},
		{"buffer size", func(c *Config) { c.ReadBufferSize = 4096 }, []string{"ReadBufferSize"}},
		{"no resolver", func(c *Config) { c.Resolver = nil }, []string{"Resolver is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.srv.Config()
			cfg.Origins = &auth.OriginPolicy{} // would refuse foreign origins
			cfg.WebDir = t.TempDir()
			tt.mod(&cfg)
			err := e.srv.Reload(cfg)
			if err == nil {
				t.Fatal("reload accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.name != "no resolver" && !errors.Is(err, ErrNeedsRestart) {
				t.Errorf("error %q does not wrap ErrNeedsRestart", err)
			}
			if w := e.dialRaw(upgradeRequest("/?token="+canary, "Origin: https://evil.example")); w.status != 101 {
				t.Errorf("after a refused reload a foreign origin got %d, want 101 as before", w.status)
			}
			if got := e.srv.Config(); got.WebDir != "" || got.Origins != nil {
				t.Errorf("Config() changed by a refused reload")
			}
			echoes(t, old, []byte(tt.name))
		})
	}
}

// TestReloadRevokeCheck: with the revocation check on, a reload to a token
// source without the console's token closes the console at the next round
// (the check asks the new source), with 1008; the old source still has it.
func TestReloadRevokeCheck(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.RevokeCheck = revokeEvery })
	w := e.dial()
	w.rfbHandshake()
	echoes(t, w, []byte("before"))
	empty := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(empty, []byte("other-token: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.srv.Config()
	cfg.Resolver = &auth.TokenFile{Path: empty}
	if err := e.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	w.expectClose(wsframe.ClosePolicyViolation)
	waitFor(t, "counted as revoked", func() bool { return e.srv.Stats().Closed[ReasonRevoked] == 1 })
}
