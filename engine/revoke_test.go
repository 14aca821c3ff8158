package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// revokeEvery is the revocation interval of the tests: short, so that a
// test waits a few rounds at most.
const revokeEvery = 200 * time.Millisecond

// TestRevokeCheckTokenFile: a live console is closed with 1008 when its
// token leaves the token file or names another console, and kept while the
// token stands; the log says why with the token masked.
func TestRevokeCheckTokenFile(t *testing.T) {
	tests := []struct {
		name   string
		file   func(console string) string // the token file's new text
		closed bool
	}{
		{"line removed", func(string) string { return "other: 127.0.0.1:1\n" }, true},
		{"target changed", func(string) string { return canary + ": 127.0.0.1:1\n" }, true},
		{"file rewritten, same target", func(c string) string { return "# same\n" + canary + ": " + c + "\n" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.RevokeCheck = revokeEvery })
			path := e.srv.cfg.Resolver.(*auth.TokenFile).Path
			w := e.dial()
			w.rfbHandshake()
			checks := e.srv.Stats().RevokeChecks
			if err := os.WriteFile(path, []byte(tt.file(e.console.Addr())), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.closed {
				if got := w.expectClose(wsframe.ClosePolicyViolation); got != closeRevoked {
					t.Fatalf("close reason %q", got)
				}
				w.expectEOF()
				waitFor(t, "console counted closed", func() bool { return e.srv.Stats().Closed[ReasonRevoked] == 1 })
				if !strings.Contains(e.logs.String(), `msg="console token revoked"`) ||
					!strings.Contains(e.logs.String(), auth.Mask(canary)) {
					t.Fatalf("no revocation line with the masked token:\n%s", e.logs.String())
				}
				return
			}
			waitFor(t, "two revocation rounds", func() bool { return e.srv.Stats().RevokeChecks >= checks+2 })
			w.send([]byte("still here"))
			if got := string(w.readData(10)); got != "still here" {
				t.Fatalf("echo %q", got)
			}
		})
	}
}

// TestRevokeCheckStoreError: a store that cannot answer keeps the console
// (fail-static); once it answers "unknown", the console is closed.
func TestRevokeCheckStoreError(t *testing.T) {
	dir := t.TempDir()
	tf, err := auth.NewTokenFileName(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.RevokeCheck = revokeEvery; c.Resolver = tf })
	file := filepath.Join(dir, canary)
	if err := os.WriteFile(file, []byte(e.console.Addr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	w.rfbHandshake()
	// Two lines: TokenFileName cannot decide (503 for a new console).
	if err := os.WriteFile(file, []byte(e.console.Addr()+"\n"+e.console.Addr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errs := e.srv.Stats().RevokeErrors
	waitFor(t, "two failed revocation lookups", func() bool { return e.srv.Stats().RevokeErrors >= errs+2 })
	w.send([]byte("kept"))
	if got := string(w.readData(4)); got != "kept" {
		t.Fatalf("echo %q", got)
	}
	if !strings.Contains(e.logs.String(), "consoles kept") {
		t.Fatalf("store failure not logged:\n%s", e.logs.String())
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if got := w.expectClose(wsframe.ClosePolicyViolation); got != closeRevoked {
		t.Fatalf("close reason %q", got)
	}
	w.expectEOF()
}

// TestRevokeCheckManyConsoles: consoles sharing a token cost one lookup per
// round, and all of them close when it is revoked.
func TestRevokeCheckManyConsoles(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.RevokeCheck = revokeEvery })
	path := e.srv.cfg.Resolver.(*auth.TokenFile).Path
	const n = 5
	var ws []*wsClient
	for range n {
		w := e.dial()
		w.rfbHandshake()
		ws = append(ws, w)
	}
	rounds, checks := e.srv.revoke.rounds.Load(), e.srv.Stats().RevokeChecks
	waitFor(t, "three rounds", func() bool { return e.srv.revoke.rounds.Load() >= rounds+3 })
	// One lookup per distinct token and round, whatever the number of
	// consoles (a round may end between the two reads: one more).
	dr, dc := e.srv.revoke.rounds.Load()-rounds, e.srv.Stats().RevokeChecks-checks
	if dc > dr+1 {
		t.Fatalf("%d lookups in %d rounds for one token and %d consoles", dc, dr, n)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		w.expectClose(wsframe.ClosePolicyViolation)
	}
	waitFor(t, "all counted", func() bool { return e.srv.Stats().Closed[ReasonRevoked] == n })
}

// TestRevokeCheckOff: without RevokeCheck no token is kept and removing it
// leaves the console open.
func TestRevokeCheckOff(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	if e.srv.revoke != nil {
		t.Fatal("revoker built with the check off")
	}
	path := e.srv.cfg.Resolver.(*auth.TokenFile).Path
	w := e.dial()
	w.rfbHandshake()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * revokeEvery) // nothing to wait for: no check runs
	w.send([]byte("open"))
	if got := string(w.readData(4)); got != "open" {
		t.Fatalf("echo %q", got)
	}
}
