package engine

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
)

// TestConsolesAndLoops: the snapshot APIs copy every connection's fields on
// its loop; the per-loop byte totals carry closed consoles' bytes, so their
// sum never goes down.
func TestConsolesAndLoops(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	ws := []*wsClient{e.dial(), e.dial(), e.dial()}
	for _, w := range ws {
		w.rfbHandshake()
	}
	payload := bytes.Repeat([]byte("x"), 1000)
	ws[0].send(payload)
	ws[0].readData(len(payload))

	ctx := context.Background()
	cs, err := e.srv.Consoles(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d consoles listed, want 3: %+v", len(cs), cs)
	}
	var in, out int64
	for _, c := range cs {
		if c.State != "relaying" || c.TokenMask != auth.Mask(canary) || c.Target != e.console.Addr() {
			t.Errorf("console %+v", c)
		}
		if _, _, err := net.SplitHostPort(c.Client); err != nil || c.Opened.IsZero() || time.Since(c.Opened) > time.Minute {
			t.Errorf("console client/opened: %+v", c)
		}
		if c.PausedBrowser || c.PausedConsole {
			t.Errorf("console paused: %+v", c)
		}
		in, out = in+c.BytesIn, out+c.BytesOut
	}
	if cs2, _ := e.srv.Consoles(ctx, 2); len(cs2) != 2 {
		t.Fatalf("max 2: %d listed", len(cs2))
	}

	loops, err := e.srv.Loops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var consoles int
	var lin, lout uint64
	for i, l := range loops {
		if l.Index != i {
			t.Fatalf("loops out of order: %+v", loops)
		}
		consoles += l.Consoles
		lin, lout = lin+l.BytesIn, lout+l.BytesOut
	}
	if consoles != 3 || lin != uint64(in) || lout != uint64(out) || in < int64(len(payload)) {
		t.Fatalf("loops %+v, consoles in %d out %d", loops, in, out)
	}

	// A console closes: the loops keep its bytes.
	ws[0].write(frame(true, 0x8, []byte{0x03, 0xe8}))
	ws[0].expectClose(1000)
	waitFor(t, "the console to close", func() bool { return e.srv.Stats().Consoles == 2 })
	loops, _ = e.srv.Loops(ctx)
	var after uint64
	for _, l := range loops {
		after += l.BytesIn
	}
	if after != lin {
		t.Fatalf("bytes in after a close: %d, before %d", after, lin)
	}
}

// TestLatenciesAndRefusals: opening a console records the handshake, lookup
// and dial histograms; a refusal is counted by its status.
func TestLatenciesAndRefusals(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	e.dial().rfbHandshake()
	l := e.srv.Latencies()
	if l.Handshake.Count() != 1 || l.TokenLookup.Count() != 1 || l.Dial.Count() != 1 || l.ConsoleSetup.Count() != 0 {
		t.Fatalf("latencies %+v", l)
	}
	if l.Handshake.Sum <= 0 || l.Handshake.Sum < l.Dial.Sum {
		t.Fatalf("handshake sum %v, dial sum %v", l.Handshake.Sum, l.Dial.Sum)
	}
	w := e.dialRaw(upgradeRequest("/websockify?token=unknown"))
	if w.status != 403 {
		t.Fatalf("status %d", w.status)
	}
	st := e.srv.Stats()
	if st.Refusals[refusalSlot(403)] != 1 || st.Refused != 1 {
		t.Fatalf("refusals %v (refused %d)", st.Refusals, st.Refused)
	}
	if got := e.srv.Latencies().TokenLookup.Count(); got != 2 {
		t.Fatalf("lookups %d, want 2", got)
	}
}

func TestHistogramBuckets(t *testing.T) {
	last := len(LatencyBounds)
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{"negative", -time.Second, 0},
		{"zero", 0, 0},
		{"first bound inclusive", 100 * time.Microsecond, 0},
		{"just above the first", 101 * time.Microsecond, 1},
		{"one second", time.Second, 12},
		{"last bound", 10 * time.Second, last - 1},
		{"overflow", time.Minute, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			h.observe(tt.d)
			s := h.snapshot()
			if s.Counts[tt.want] != 1 || s.Count() != 1 {
				t.Fatalf("counts %v, want one in bucket %d", s.Counts, tt.want)
			}
			if s.Sum != max(tt.d, 0) {
				t.Fatalf("sum %v", s.Sum)
			}
		})
	}
}

func TestHistogramZeroAllocs(t *testing.T) {
	var h histogram
	if a := testing.AllocsPerRun(100, func() { h.observe(3 * time.Millisecond) }); a != 0 {
		t.Fatalf("observe allocates %v times", a)
	}
}

func TestRefusalSlot(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   int
	}{
		{"first", 400, 0},
		{"unauthorized", 401, 1},
		{"forbidden", 403, 2},
		{"gateway timeout", 504, refusalSlots - 2},
		{"unlisted", 418, refusalSlots - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refusalSlot(tt.status); got != tt.want {
				t.Fatalf("slot %d, want %d", got, tt.want)
			}
		})
	}
}

// TestReady: not ready before Serve, ready while serving, draining once
// Shutdown has begun.
func TestReady(t *testing.T) {
	srv, err := New(Config{Listen: "127.0.0.1:0", Resolver: auth.Static{}, Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Ready() == nil {
		t.Fatal("ready before Serve")
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	waitFor(t, "Serve", func() bool { return srv.Ready() == nil })
	if _, err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if err := srv.Ready(); err == nil {
		t.Fatal("ready after Shutdown")
	}
}

// TestLookupErrors: a store that cannot answer is counted apart from
// unknown tokens, and its requests get 503.
func TestLookupErrors(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = &auth.TokenFile{Path: filepath.Join(t.TempDir(), "missing"), Logger: c.Logger}
	})
	if w := e.dialRaw(upgradeRequest("/websockify?token=" + canary)); w.status != 503 {
		t.Fatalf("status %d", w.status)
	}
	if st := e.srv.Stats(); st.LookupErrors != 1 || st.Refusals[refusalSlot(503)] != 1 {
		t.Fatalf("lookup errors %d, refusals %v", st.LookupErrors, st.Refusals)
	}
}

// TestConsoleSetupLatency: a console behind the RFB security proxy records
// its console handshake, and the whole open is at least that long.
func TestConsoleSetupLatency(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	target := auth.Target{Network: "tcp", Address: e.console.Addr(), SecurityProxy: auth.SecurityProxyRFBNone}
	e2 := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = auth.Static{Target: target} })
	e2.dial()
	l := e2.srv.Latencies()
	if l.ConsoleSetup.Count() != 1 || l.Handshake.Count() != 1 || l.ConsoleSetup.Sum <= 0 || l.Handshake.Sum < l.ConsoleSetup.Sum {
		t.Fatalf("latencies %+v", l)
	}
}

// TestSnapshotShowsPaused: a browser that reads nothing gets its console's
// reads paused, and both snapshots say so.
func TestSnapshotShowsPaused(t *testing.T) {
	e := newEnv(t, rfb.ModeStream, func(c *Config) { c.HighWater = 64 << 10 })
	w := e.dial()
	w.rfbHandshake()
	req := []byte{3, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x10} // a 256×16 update request
	w.send(bytes.Repeat(req, 400))
	ctx := context.Background()
	waitFor(t, "the console's reads to pause", func() bool {
		cs, err := e.srv.Consoles(ctx, 10)
		return err == nil && len(cs) == 1 && cs[0].PausedConsole && !cs[0].PausedBrowser
	})
	loops, err := e.srv.Loops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paused := 0
	for _, l := range loops {
		paused += l.Paused
	}
	if paused != 1 || e.srv.Stats().PausesConsole == 0 {
		t.Fatalf("loops %+v, stats %+v", loops, e.srv.Stats())
	}
}
