//go:build linux

package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Tests that guard the loop's batch of browser → console payloads
// (relay.go, toConsole): one buffer per event loop, shared by every session
// on it, empty whenever frames is not running. They cover the paths
// TestSmallFramesBatched and TestSmallFramesBeforeClose do not: sessions
// interleaving on one loop, a console that resets mid-burst, wss browsers
// (crypto/tls and the relay's record layer), TLS to the console, the RFB
// security proxy, recording, backpressure and stateClosing.

// taggedEvents returns n payloads of 6 bytes (an RFB PointerEvent's size)
// that name their session (id) and burst (round), as masked frames, and the
// payloads end to end.
func taggedEvents(n int, id, round byte) (frames, payloads []byte) {
	for i := range n {
		p := []byte{5, id, round, byte(i), byte(i >> 8), ^id}
		frames = append(frames, frame(true, wsframe.OpBinary, p)...)
		payloads = append(payloads, p...)
	}
	return frames, payloads
}

// filled returns n bytes of a pattern that names id.
func filled(n int, id byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = id ^ byte(i) ^ byte(i>>8)
	}
	return b
}

// batchBurst is what a browser writes in one go (wire) and what the console
// must get from it (want); pings counts the pings in it.
type batchBurst struct {
	wire, want []byte
	pings      int
}

func (b *batchBurst) add(wire, want []byte) {
	b.wire, b.want = append(b.wire, wire...), append(b.want, want...)
}

func (b *batchBurst) events(n int, id, round byte) { b.add(taggedEvents(n, id, round)) }

func (b *batchBurst) binary(p []byte) { b.add(frame(true, wsframe.OpBinary, p), p) }

// mixedBurst is small frames mixed with what makes the batch flush or be
// bypassed: a fragmented message with a ping between its small fragments,
// a payload larger than the batch, one exactly its size, one that fits an
// empty batch but not a started one.
func mixedBurst(id, round byte) batchBurst {
	var b batchBurst
	b.events(120, id, round)
	b.add(frame(false, wsframe.OpBinary, []byte{'f', id}), []byte{'f', id})
	b.wire = append(b.wire, frame(true, wsframe.OpPing, []byte{'p', id})...)
	b.pings++
	b.add(frame(false, wsframe.OpContinuation, []byte{'r', id}), []byte{'r', id})
	b.add(frame(true, wsframe.OpContinuation, []byte{'g', id}), []byte{'g', id})
	b.events(30, id, round+1)
	b.binary(filled(consoleBatchMax+3000, id))
	b.events(40, id, round+2)
	b.binary(filled(consoleBatchMax, id^0x55))
	b.events(25, id, round+3)
	b.binary(filled(consoleBatchMax-10, id^0xaa)) // over what the 25 events left
	b.events(60, id, round+4)
	return b
}

// readEcho reads binary frames from w until it has n payload bytes,
// counting pongs and skipping them. It returns an error instead of failing
// the test, so that it can run on a goroutine of the test's.
func readEcho(w *wsClient, n int) (data []byte, pongs int, err error) {
	data = make([]byte, 0, n)
	for len(data) < n {
		op, p, err := w.readFrame(10 * time.Second)
		if err != nil {
			return data, pongs, fmt.Errorf("after %d of %d bytes: %w", len(data), n, err)
		}
		switch op {
		case wsframe.OpBinary:
			data = append(data, p...)
		case wsframe.OpPong:
			pongs++
		default:
			return data, pongs, fmt.Errorf("%s frame %q after %d of %d bytes", op, p, len(data), n)
		}
	}
	return data, pongs, nil
}

// sendBurstEcho writes b and checks that the echo console sends back b.want
// exactly, and that every ping was answered.
func sendBurstEcho(t *testing.T, w *wsClient, b batchBurst) {
	t.Helper()
	w.write(b.wire)
	got, pongs, err := readEcho(w, len(b.want))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.want) {
		t.Fatalf("console echoed %d bytes that differ from the %d sent (first difference at %d)",
			len(got), len(b.want), firstDiff(got, b.want))
	}
	for pongs < b.pings {
		op, _, err := w.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("pong %d of %d: %v", pongs+1, b.pings, err)
		}
		if op == wsframe.OpPong {
			pongs++
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// tokenMap resolves each of its tokens to a TCP address.
type tokenMap map[string]string

func (m tokenMap) Resolve(_ context.Context, token string) (auth.Target, error) {
	if a, ok := m[token]; ok {
		return auth.Target{Network: "tcp", Address: a}, nil
	}
	return auth.Target{}, auth.ErrUnknownToken
}

// TestBatchLoopSharedBySessions: sessions on one loop (the batch is that
// loop's) send bursts of small frames at the same time; each console gets
// back exactly its own browser's bytes, in order, and the batch is empty
// between reads.
func TestBatchLoopSharedBySessions(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Loops = 1 })
	const sessions, rounds = 6, 12
	ws := make([]*wsClient, sessions)
	for i := range ws {
		ws[i] = e.dial()
		ws[i].rfbHandshake()
	}
	errs := make(chan error, sessions)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := byte(i + 1)
			for r := range rounds {
				b := mixedBurst(id, byte(r*8))
				if _, err := w.c.Write(b.wire); err != nil {
					errs <- fmt.Errorf("session %d round %d: write: %w", id, r, err)
					return
				}
				got, pongs, err := readEcho(w, len(b.want))
				if err != nil {
					errs <- fmt.Errorf("session %d round %d: %w", id, r, err)
					return
				}
				if !bytes.Equal(got, b.want) {
					errs <- fmt.Errorf("session %d round %d: echo differs from what was sent at byte %d of %d (% x)",
						id, r, firstDiff(got, b.want), len(b.want), got[firstDiff(got, b.want):min(len(got), firstDiff(got, b.want)+6)])
					return
				}
				for pongs < b.pings {
					op, _, err := w.readFrame(5 * time.Second)
					if err != nil {
						errs <- fmt.Errorf("session %d round %d: pong: %w", id, r, err)
						return
					}
					if op == wsframe.OpPong {
						pongs++
					}
				}
			}
		}()
	}
	// Meanwhile other sessions on the loop open, send small frames and
	// their close in one write, and end: the close takes their console
	// away in the middle of a read.
	closers := make(chan error, 3)
	for c := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closers <- closeAfterBurst(e, byte(0x80+c), 8)
		}()
	}
	wg.Wait()
	close(errs)
	close(closers)
	for err := range errs {
		t.Error(err)
	}
	for err := range closers {
		if err != nil {
			t.Error(err)
		}
	}
	if n := e.batchedCount(); n == 0 {
		t.Fatal("no payload batched")
	}
}

// closeAfterBurst opens times consoles in turn, each time writing small
// frames and a close frame in one write, and waits for the relay's close.
// It returns an error instead of failing the test (it runs on a goroutine).
func closeAfterBurst(e *env, id byte, times int) error {
	for i := range times {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		burst, _ := taggedEvents(100, id, byte(i))
		burst = append(burst, frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, ""))...)
		if _, err := io.WriteString(c, upgradeRequest("/websockify?token="+canary)); err != nil {
			c.Close()
			return err
		}
		// The 101 and the console's RFB version line, then the burst.
		br := bufio.NewReader(c)
		head, err := readHead(br)
		if err != nil || !strings.HasPrefix(head, "HTTP/1.1 101") {
			c.Close()
			return fmt.Errorf("closer %x: upgrade: %q %v", id, head, err)
		}
		if _, err := c.Write(burst); err != nil {
			c.Close()
			return err
		}
		_, _ = io.Copy(io.Discard, br) // until the relay closes
		c.Close()
	}
	return nil
}

// readHead reads an HTTP response head.
func readHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String(), err
		}
	}
}

// resetConsole accepts one connection on ln, reads a little of it, then
// resets it (SO_LINGER 0): the relay's next writes to it fail.
func resetConsole(ln net.Listener) {
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.ReadFull(c, make([]byte, 600))
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}()
}

// TestBatchConsoleResetMidBurst: a console that resets while its browser
// floods small frames makes the relay's writes to it fail inside the
// batch's flush; another session on the same loop, streaming meanwhile,
// gets exactly its own bytes back, and the batch is left empty.
func TestBatchConsoleResetMidBurst(t *testing.T) {
	echo := &rfb.Server{Mode: rfb.ModeEcho}
	if err := echo.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	resetConsole(ln)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Loops = 1
		c.Resolver = tokenMap{canary: echo.Addr(), canary + "-reset": ln.Addr().String()}
	})
	good := e.dial()
	good.rfbHandshake()
	bad := e.dialRaw(upgradeRequest("/websockify?token=" + canary + "-reset"))
	if bad.status != 101 {
		t.Fatalf("upgrade: %d", bad.status)
	}

	flooded := make(chan int, 1)
	go func() { // the reset console's browser: bursts until the relay ends it
		n := 0
		for r := range 2000 {
			b, _ := taggedEvents(100, 0xee, byte(r))
			if !bad.tryWrite(b) {
				break
			}
			n++
		}
		flooded <- n
	}()
	for r := range 20 {
		sendBurstEcho(t, good, mixedBurst(1, byte(r*8)))
	}
	code := closeCodeOf(t, bad)
	if code != wsframe.CloseNormal && code != wsframe.CloseInternalError {
		t.Fatalf("reset console's browser got close %d, want 1000 or 1011", code)
	}
	_ = bad.c.Close()
	<-flooded
	sendBurstEcho(t, good, mixedBurst(2, 200))
	if n := e.batchedCount(); n == 0 {
		t.Fatal("no payload batched")
	}
}

// closeCodeOf reads w's frames until a close frame and returns its code
// (CloseNoStatus for none).
func closeCodeOf(t *testing.T, w *wsClient) wsframe.CloseCode {
	t.Helper()
	for {
		op, p, err := w.readFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("waiting for a close frame: %v", err)
		}
		if op != wsframe.OpClose {
			continue
		}
		if len(p) < 2 {
			return wsframe.CloseNoStatus
		}
		return wsframe.CloseCode(uint16(p[0])<<8 | uint16(p[1]))
	}
}

// TestBatchWSSBrowser: over wss, with crypto/tls (TLS 1.2) and with the
// relay's own record layer (TLS 1.3), bursts of small frames mixed with
// large and fragmented ones reach the console in order and byte-exact,
// through the batch.
func TestBatchWSSBrowser(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxVersion  uint16
		recordLayer bool
	}{
		{"TLS 1.2 crypto/tls", tls.VersionTLS12, false},
		{"TLS 1.3 record layer", tls.VersionTLS13, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTLSEnv(t, rfb.ModeEcho, nil)
			cfg := e.clientTLS()
			cfg.MaxVersion = tc.maxVersion
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			w := e.dialTLS(cfg, upgradeRequest("/websockify?token="+canary))
			if w.status != 101 {
				t.Fatalf("upgrade over TLS: %d", w.status)
			}
			w.rfbHandshake()
			for r := range 6 {
				sendBurstEcho(t, w, mixedBurst(7, byte(r*8)))
			}
			if got := e.srv.Stats().TLS.RecordLayer; (got > 0) != tc.recordLayer {
				t.Fatalf("record layer took over %d connections, want it to: %v", got, tc.recordLayer)
			}
			if n := e.batchedCount(); n == 0 {
				t.Fatal("no payload batched")
			}
		})
	}
}

// TestBatchTLSConsole: with TLS to the console (s.cw is a TLS writer), from
// a plain and from a wss browser, bursts of small frames reach the console
// in order and byte-exact, through the batch.
func TestBatchTLSConsole(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprintf("wss=%v", wss), func(t *testing.T) {
			ca := testutil.NewTestCA(t, "console CA")
			var console atomic.Value
			front := testutil.TLSFront(t, ca.Server(t, "127.0.0.1").TLS, func() string { return console.Load().(string) })
			e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
				c.TargetTLS = &tls.Config{RootCAs: ca.Pool}
				c.Resolver = auth.Static{Target: auth.Target{Network: "tcp", Address: front}}
			})
			console.Store(e.console.Addr())
			w := e.dialOver(wss)
			w.rfbHandshake()
			for r := range 6 {
				sendBurstEcho(t, w, mixedBurst(9, byte(r*8)))
			}
			if n := e.batchedCount(); n == 0 {
				t.Fatal("no payload batched")
			}
		})
	}
}

// TestBatchSecurityProxy: with the RFB security proxy (None, and
// VeNCrypt X509None with TLS to the console, Nova's two modes), the
// browser's security choice, its ClientInit and a burst of small frames in
// one read: the proxy takes the choice, and what follows reaches the
// console in order, the small frames through the batch.
func TestBatchSecurityProxy(t *testing.T) {
	ca := testutil.NewTestCA(t, "compute CA")
	for _, tc := range []struct {
		name   string
		target func(t *testing.T, echo string) auth.Target
	}{
		{"None", func(t *testing.T, echo string) auth.Target {
			return auth.Target{Network: "tcp", Address: echo, SecurityProxy: auth.SecurityProxyRFBNone}
		}},
		{"VeNCrypt X509None", func(t *testing.T, _ string) auth.Target {
			addr := goVeNCryptConsole(t, ca.Server(t, "compute-1.example").TLS, ca, false, tlsEchoConsole)
			return auth.Target{Network: "tcp", Address: addr, SecurityProxy: auth.SecurityProxyRFBVeNCrypt,
				VeNCrypt: &tls.Config{RootCAs: ca.Pool, ServerName: "compute-1.example",
					Certificates: []tls.Certificate{ca.Client(t, "nova-novncproxy").TLS}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, rfb.ModeEcho, nil)
			target := tc.target(t, e.console.Addr())
			e2 := newEnv(t, rfb.ModeEcho, func(c *Config) {
				c.Resolver = auth.Static{Target: target}
				c.ConnectTimeout = 5 * time.Second
			})
			w := e2.dial()
			next := w.nextBinary
			next("RFB 003.008\n")
			w.send([]byte("RFB 003.008\n"))
			next("\x01\x01")
			var b batchBurst
			b.wire = frame(true, wsframe.OpBinary, []byte{1})    // None: the proxy's
			b.add(frame(true, wsframe.OpBinary, []byte{1}), nil) // ClientInit: the console takes it
			b.events(150, 3, 0)
			b.binary(filled(consoleBatchMax+100, 3))
			b.events(50, 3, 1)
			w.write(b.wire)
			next("\x00\x00\x00\x00")

			// ServerInit, then the echo of the events.
			s := &wsStream{w: w}
			head := make([]byte, 24)
			if _, err := io.ReadFull(s, head); err != nil {
				t.Fatalf("ServerInit: %v", err)
			}
			name := make([]byte, int(head[20])<<24|int(head[21])<<16|int(head[22])<<8|int(head[23]))
			if _, err := io.ReadFull(s, name); err != nil {
				t.Fatalf("ServerInit name: %v", err)
			}
			got := make([]byte, len(b.want))
			if _, err := io.ReadFull(s, got); err != nil {
				t.Fatalf("echo: %v", err)
			}
			if !bytes.Equal(got, b.want) {
				t.Fatalf("console echoed bytes that differ from those sent at %d of %d", firstDiff(got, b.want), len(b.want))
			}
			if n := e2.batchedCount(); n == 0 {
				t.Fatal("no payload batched")
			}
		})
	}
}

// tlsEchoConsole is the end of a VeNCrypt console's setup inside TLS:
// SecurityResult OK, ServerInit on ClientInit, then an echo of every byte.
func tlsEchoConsole(tc *tls.Conn) {
	if _, err := tc.Write([]byte("\x00\x00\x00\x00")); err != nil {
		return
	}
	if _, err := io.ReadFull(tc, make([]byte, 1)); err != nil { // ClientInit
		return
	}
	init := append(make([]byte, 20), 0, 0, 0, 4)
	init[1], init[3] = 4, 3 // 1024 × 768
	init = append(init, "echo"...)
	if _, err := tc.Write(init); err != nil {
		return
	}
	_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.Copy(tc, tc)
}

// batchRecorder keeps what a console's recording is given.
type batchRecorder struct {
	mu      sync.Mutex
	in, out []byte
	closed  bool
}

func (r *batchRecorder) Record(_ int64, fromBrowser bool, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fromBrowser {
		r.in = append(r.in, p...)
	} else {
		r.out = append(r.out, p...)
	}
}

func (r *batchRecorder) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// TestBatchRecorded: with recording on, the browser's payloads are
// recorded whole and in order while they go to the console through the
// batch, and the console's echo is recorded too.
func TestBatchRecorded(t *testing.T) {
	var mu sync.Mutex
	var recs []*batchRecorder
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Recorder = func(int64) ConsoleRecorder {
			mu.Lock()
			defer mu.Unlock()
			r := &batchRecorder{}
			recs = append(recs, r)
			return r
		}
	})
	w := e.dial()
	w.rfbHandshake()
	var want []byte
	for r := range 4 {
		b := mixedBurst(4, byte(r*8))
		sendBurstEcho(t, w, b)
		want = append(want, b.want...)
	}
	w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
	w.expectClose(wsframe.CloseNormal)
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 1 {
		t.Fatalf("%d recordings, want 1", len(recs))
	}
	r := recs[0]
	waitFor(t, "the recording to close", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.closed })
	r.mu.Lock()
	defer r.mu.Unlock()
	// The browser's side also holds its RFB handshake answers, before the bursts.
	if !bytes.HasSuffix(r.in, want) {
		t.Fatalf("recorded %d bytes from the browser, not ending with the %d sent", len(r.in), len(want))
	}
	if !bytes.HasSuffix(r.out, want) {
		t.Fatalf("recorded %d bytes from the console, not ending with the %d echoed", len(r.out), len(want))
	}
	if n := e.batchedCount(); n == 0 {
		t.Fatal("no payload batched")
	}
}

// TestBatchBackpressure: a console that does not read while its browser
// sends bursts of small frames: its buffer passes HighWater and the
// browser's reads pause; once the console reads, it gets every byte in
// order.
func TestBatchBackpressure(t *testing.T) {
	ln := smallBufferListener(t)
	defer ln.Close()
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = staticTarget(ln.Addr().String())
		c.HighWater = 64 << 10
	})
	var sent batchBurst
	for r := range 120 {
		sent.events(200, 5, byte(r))
		sent.binary(filled(32<<10, byte(r)))
	}
	startRead := make(chan struct{})
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		<-startRead
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b := make([]byte, len(sent.want))
		n, _ := io.ReadFull(c, b)
		got <- b[:n]
	}()
	w := e.dial()
	wrote := make(chan error, 1)
	go func() { _, err := w.c.Write(sent.wire); wrote <- err }()

	deadline := time.Now().Add(15 * time.Second)
	for e.srv.Stats().PausesBrowser == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	paused := e.srv.Stats().PausesBrowser
	held := 0
	e.srv.eachLoop(func(ls *loopState) {
		for _, s := range ls.sessions {
			if s.console != nil {
				held += s.console.OutboundBuffered()
			}
		}
	})
	t.Logf("browser reads paused %d times; %d bytes held for the console when it starts reading", paused, held)
	close(startRead)
	var b []byte
	select {
	case b = <-got:
	case <-time.After(40 * time.Second):
		t.Fatal("console never got its bytes")
	}
	if err := <-wrote; err != nil {
		t.Fatalf("browser write: %v", err)
	}
	if !bytes.Equal(b, sent.want) {
		t.Fatalf("console got %d bytes that differ from the %d sent at %d", len(b), len(sent.want), firstDiff(b, sent.want))
	}
	if paused == 0 {
		t.Fatal("the browser's reads were never paused: backpressure not exercised")
	}
	if n := e.batchedCount(); n == 0 {
		t.Fatal("no payload batched")
	}
}

// TestBatchClosingDropsPayloads: in stateClosing (the console has closed
// and the relay's close frame is out), a burst of small frames that comes
// before the browser's close answer is dropped, not batched, and the
// session ends cleanly.
func TestBatchClosingDropsPayloads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.Close() // the console ends at once
		}
	}()
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(ln.Addr().String()) })
	w := e.dial()
	w.sent = true // expectClose must not answer: the burst goes first
	w.expectClose(wsframe.CloseNormal)
	before := e.batchedCount()
	burst, _ := taggedEvents(300, 6, 0)
	burst = append(burst, frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, ""))...)
	if !w.tryWrite(burst) {
		t.Fatal("the relay closed before the browser's answer")
	}
	w.expectEOF()
	waitFor(t, "the session to end", func() bool { return e.srv.Stats().Connections == 0 })
	if n := e.batchedCount(); n != before {
		t.Fatalf("%d payloads batched in stateClosing", n-before)
	}
}

// TestBatchBeforeProtocolError: small frames, then a frame that breaks the
// protocol, in one read: every payload before the bad frame reaches the
// console before the relay closes it, and the browser gets the code the
// violation calls for.
func TestBatchBeforeProtocolError(t *testing.T) {
	unmasked := frame(true, wsframe.OpBinary, []byte("x"))
	unmasked[1] &^= 0x80
	tooBig := make([]byte, wsframe.MaxHeaderSize+4)
	n := wsframe.PutHeader(tooBig, true, wsframe.OpBinary, 1<<20)
	tooBig[1] |= 0x80
	tooBig = tooBig[:n+4]
	for _, tc := range []struct {
		name string
		bad  []byte
		code wsframe.CloseCode
	}{
		{"text frame", frame(true, wsframe.OpText, []byte("hi")), wsframe.CloseUnsupportedData},
		{"unmasked frame", unmasked, wsframe.CloseProtocolError},
		{"message too big", tooBig, wsframe.CloseMessageTooBig},
		{"continuation without a start", frame(true, wsframe.OpContinuation, []byte("c")), wsframe.CloseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := loopbackListener(t)
			got := drainConsole(ln, 0)
			e := newEnv(t, rfb.ModeEcho, func(c *Config) {
				c.Resolver = staticTarget(ln.Addr().String())
				c.MaxMessageSize = 64 << 10
			})
			w := e.dial()
			var b batchBurst
			b.events(150, 8, 0)
			b.binary(filled(consoleBatchMax+10, 8))
			b.events(100, 8, 1)
			b.wire = append(b.wire, tc.bad...)
			w.write(b.wire)
			w.expectClose(tc.code)
			expectDrained(t, got, b.want, "the bad frame")
			if n := e.batchedCount(); n == 0 {
				t.Fatal("no payload batched")
			}
		})
	}
}

// TestBatchBeforeBrowserEOF: a browser that writes a burst of small frames
// and goes away (the end of its TCP stream, or over wss its close_notify,
// no close frame) while its console is slow to read: every payload reaches
// the console, through the batch and the console's lingering flush.
func TestBatchBeforeBrowserEOF(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprintf("wss=%v", wss), func(t *testing.T) {
			ln := smallBufferListener(t)
			defer ln.Close()
			var sent batchBurst
			for r := range 40 {
				sent.events(300, 10, byte(r))
				sent.binary(filled(24<<10, byte(r)))
			}
			got := drainConsole(ln, 300*time.Millisecond) // slow to read: the relay's buffer holds the rest
			e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
				c.Resolver = staticTarget(ln.Addr().String())
				c.CloseTimeout = 20 * time.Second // time enough for the lingering flush
			})
			w := e.dialOver(wss)
			w.write(sent.wire)
			if tc, ok := w.c.(*tls.Conn); ok {
				_ = tc.CloseWrite() // close_notify
			} else {
				_ = w.c.(*net.TCPConn).CloseWrite()
			}
			expectDrained(t, got, sent.want, "the browser left")
			if n := e.batchedCount(); n == 0 {
				t.Fatal("no payload batched")
			}
		})
	}
}

// randomStream is n frames of random sizes (mostly a few bytes, some past
// the batch), some messages fragmented, pings between, from seed; wire is
// what the browser writes, want what the console must get.
func randomStream(seed uint64, n int) (b batchBurst) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	size := func() int {
		switch r := rng.IntN(100); {
		case r < 80:
			return 1 + rng.IntN(10)
		case r < 95:
			return 11 + rng.IntN(2000)
		default:
			return consoleBatchMax - 100 + rng.IntN(12000)
		}
	}
	for i := range n {
		if rng.IntN(20) == 0 {
			b.wire = append(b.wire, frame(true, wsframe.OpPing, []byte{byte(i)})...)
			b.pings++
		}
		if rng.IntN(10) == 0 { // a fragmented message, a ping maybe among its fragments
			parts := 2 + rng.IntN(4)
			for k := range parts {
				p := filled(size(), byte(i+k))
				op := wsframe.OpContinuation
				if k == 0 {
					op = wsframe.OpBinary
				}
				b.add(frame(k == parts-1, op, p), p)
				if k < parts-1 && rng.IntN(3) == 0 {
					b.wire = append(b.wire, frame(true, wsframe.OpPing, nil)...)
					b.pings++
				}
			}
			continue
		}
		b.binary(filled(size(), byte(i)))
	}
	return b
}

// TestBatchRandomSplits: random streams of frames written in random pieces
// (a frame's header or payload split anywhere, so reads end anywhere), by
// sessions sharing one loop, plain and over wss: each console gets its
// browser's bytes exactly.
func TestBatchRandomSplits(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprintf("wss=%v", wss), func(t *testing.T) {
			e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) { c.Loops = 1 })
			const sessions = 3
			errs := make(chan error, 2*sessions)
			var wg sync.WaitGroup
			for i := range sessions {
				w := e.dialOver(wss)
				w.rfbHandshake()
				seed := uint64(i + 1)
				if wss {
					seed += 100
				}
				b := randomStream(seed, 1500)
				wg.Add(2)
				go func() { // the browser writes in random pieces
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, 7))
					for off := 0; off < len(b.wire); {
						k := min(len(b.wire)-off, 1+rng.IntN(3000))
						if _, err := w.c.Write(b.wire[off : off+k]); err != nil {
							errs <- fmt.Errorf("session %d: write: %w", i, err)
							return
						}
						off += k
					}
				}()
				go func() {
					defer wg.Done()
					got, _, err := readEcho(w, len(b.want))
					if err != nil {
						errs <- fmt.Errorf("session %d: %w", i, err)
						return
					}
					if !bytes.Equal(got, b.want) {
						errs <- fmt.Errorf("session %d: echo differs from what was sent at byte %d of %d", i, firstDiff(got, b.want), len(b.want))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := e.batchedCount(); n == 0 {
				t.Fatal("no payload batched")
			}
		})
	}
}

// TestBatchTLSConsoleBeforeClose: with TLS to the console, small frames and
// a close frame in one read: every payload reaches the console (sealed
// from the batch) before the relay ends its TLS stream.
func TestBatchTLSConsoleBeforeClose(t *testing.T) {
	ln := loopbackListener(t)
	got := drainConsole(ln, 0) // until the relay's TLS stream ends
	ca := testutil.NewTestCA(t, "console CA")
	front := testutil.TLSFront(t, ca.Server(t, "127.0.0.1").TLS, func() string { return ln.Addr().String() })
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.TargetTLS = &tls.Config{RootCAs: ca.Pool}
		c.Resolver = auth.Static{Target: auth.Target{Network: "tcp", Address: front}}
	})
	w := e.dial()
	var b batchBurst
	b.events(200, 11, 0)
	b.binary(filled(consoleBatchMax+1, 11))
	b.events(200, 11, 1)
	b.wire = append(b.wire, frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "bye"))...)
	w.write(b.wire)
	w.expectClose(wsframe.CloseNormal)
	expectDrained(t, got, b.want, "the close")
	if n := e.batchedCount(); n == 0 {
		t.Fatal("no payload batched")
	}
}
