package engine

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// TestEchoByteExact sends megabytes through the relay in frames of random
// sizes, some fragmented, with pings between, and checks that the console
// echo comes back byte for byte.
func TestEchoByteExact(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	w := e.dial()
	w.rfbHandshake()

	const total = 4 << 20
	data := make([]byte, total)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for off := 0; off < total; {
			n := min(total-off, 1+rng.IntN(70000))
			chunk := data[off : off+n]
			if n > 10 && rng.IntN(4) == 0 { // fragmented, with a ping in the middle
				w.write(frame(false, wsframe.OpBinary, chunk[:n/2]))
				w.write(frame(true, wsframe.OpPing, []byte("mid")))
				w.write(frame(true, wsframe.OpContinuation, chunk[n/2:]))
			} else {
				w.send(chunk)
			}
			off += n
		}
	}()
	got := make([]byte, 0, total)
	for len(got) < total {
		op, p, err := w.readFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		switch op {
		case wsframe.OpBinary:
			got = append(got, p...)
		case wsframe.OpPong:
			if string(p) != "mid" {
				t.Fatalf("pong payload %q", p)
			}
		default:
			t.Fatalf("unexpected %s", op)
		}
	}
	wg.Wait()
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("echo differs from what was sent")
	}
	w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
	w.expectClose(wsframe.CloseNormal)
	w.expectEOF()
	waitFor(t, "console count to drop", func() bool { return e.srv.Stats().Consoles == 0 })
	if st := e.srv.Stats(); st.BytesIn != total+14 || st.BytesOut < total {
		t.Fatalf("byte counters: in %d out %d", st.BytesIn, st.BytesOut)
	}
}

// streamConsole is a console that writes size bytes of a known pattern and
// closes, as a console that ends its session would.
func streamConsole(t *testing.T, size int) (addr string, sum [32]byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	go func() {
		c, err := ln.Accept()
		_ = ln.Close()
		if err != nil {
			return
		}
		_, _ = c.Write(data)
		_ = c.Close()
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String(), sha256.Sum256(data)
}

// TestConsoleEOFDeliversEverything: a console that writes 3 MiB and closes
// has all of it delivered, then the browser gets close 1000.
func TestConsoleEOFDeliversEverything(t *testing.T) {
	addr, sum := streamConsole(t, 3<<20)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticResolver(t, addr) })
	w := e.dial()
	got := w.readData(3 << 20)
	if sha256.Sum256(got) != sum {
		t.Fatal("console stream corrupted")
	}
	w.expectClose(wsframe.CloseNormal)
	w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
	w.expectEOF()
	waitFor(t, "close counted", func() bool { return e.srv.Stats().Closed[ReasonConsoleClosed] == 1 })
}

// TestFirstFrameWithRequest: a client that sends its first frame in the same
// segment as the request loses nothing.
func TestFirstFrameWithRequest(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	req := upgradeRequest("/?token=" + canary)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The RFB client version goes out with the request, before the server's
	// version has even arrived: the relay must hold it until the console is up.
	if _, err := c.Write(append([]byte(req), frame(true, wsframe.OpBinary, []byte("RFB 003.008\n"))...)); err != nil {
		t.Fatal(err)
	}
	w := readResponse(t, c)
	if w.status != 101 {
		t.Fatalf("status %d", w.status)
	}
	// Version, then the security types: the console has read our early version.
	got := make([]byte, 14)
	if _, err := io.ReadFull(&wsStream{w: w}, got); err != nil {
		t.Fatal(err)
	}
	if want := append([]byte(rfb.Version), 1, 1); !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestRequestInPieces: a request written a few bytes at a time.
func TestRequestInPieces(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte(upgradeRequest("/websockify?token="+canary, "Sec-WebSocket-Protocol: binary"))
	for i := 0; i < len(req); i += 7 {
		if _, err := c.Write(req[i:min(i+7, len(req))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	w := readResponse(t, c)
	if w.status != 101 || !strings.Contains(w.header, "Sec-WebSocket-Protocol: binary") {
		t.Fatalf("response %q", w.header)
	}
	w.rfbHandshake()
}

// TestSubprotocol: "binary" is answered when offered, nothing when nothing is
// offered (noVNC 1.2 and later).
func TestSubprotocol(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	w := e.dialRaw(upgradeRequest("/?token="+canary, "Sec-WebSocket-Protocol: base64, binary"))
	if w.status != 101 || !strings.Contains(w.header, "Sec-WebSocket-Protocol: binary\r\n") {
		t.Fatalf("with binary offered: %q", w.header)
	}
	w = e.dial()
	if strings.Contains(w.header, "Sec-WebSocket-Protocol") {
		t.Fatalf("nothing offered, but answered: %q", w.header)
	}
	if strings.Contains(w.header, "Extensions") {
		t.Fatalf("extension in %q", w.header)
	}
}

// TestFragmentsAndControl: a fragmented message with control frames between
// its fragments reaches the console whole; pings are answered.
func TestFragmentsAndControl(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	w := e.dial()
	w.rfbHandshake()
	w.write(frame(false, wsframe.OpBinary, []byte("ab")))
	w.write(frame(true, wsframe.OpPing, []byte("p1")))
	w.write(frame(false, wsframe.OpContinuation, []byte("cd")))
	w.write(frame(true, wsframe.OpPong, []byte("unsolicited")))
	w.write(frame(false, wsframe.OpContinuation, nil))
	w.write(frame(true, wsframe.OpContinuation, []byte("ef")))
	var got []byte
	sawPong := false
	for len(got) < 6 || !sawPong {
		op, p, err := w.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		switch op {
		case wsframe.OpPong:
			sawPong = string(p) == "p1"
		case wsframe.OpBinary:
			got = append(got, p...)
		}
	}
	if string(got) != "abcdef" {
		t.Fatalf("console got %q", got)
	}
}

// staticResolver sends every token to addr (websockify's fixed target).
func staticResolver(t *testing.T, addr string) staticTarget {
	t.Helper()
	return staticTarget(addr)
}

// TestReadSlowBrowser: a browser that stops reading while its console
// streams: the relay pauses the console instead of buffering, so what it holds
// stays under the high-water mark, and nothing is lost once the browser reads.
func TestSlowBrowserBounded(t *testing.T) {
	const highWater = 256 << 10
	e := newEnv(t, rfb.ModeStream, func(c *Config) {
		c.HighWater = highWater
		c.SpliceMinRead = -1 // the copy path's buffer; splice_test.go has the pipe's
	})
	w := e.dial()
	w.rfbHandshake()
	// Ask for many updates and read none of them.
	req := []byte{3, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x10}
	var reqs []byte
	for range 400 { // 400 × 64 KiB = 25 MiB asked for
		reqs = append(reqs, req...)
	}
	w.send(reqs)
	// Another console on the same relay keeps working meanwhile.
	other := e.dial()
	other.rfbHandshake()
	other.send([]byte{3, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x10})
	if _, err := io.ReadFull(&wsStream{w: other}, make([]byte, 16+64<<10)); err != nil {
		t.Fatalf("other console: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	var held int
	peak := 0
	for range 10 {
		held = e.bufferedToBrowsers()
		peak = max(peak, held)
		time.Sleep(50 * time.Millisecond)
	}
	limit := highWater + e.srv.cfg.ReadBufferSize + wsframe.MaxHeaderSize
	if peak > limit {
		t.Fatalf("relay holds %d bytes for a slow browser, limit %d", peak, limit)
	}
	if peak < highWater/2 {
		t.Fatalf("relay holds only %d bytes: the console is not streaming", peak)
	}
	// Reading now gets every update, intact.
	stream := &wsStream{w: w}
	update := make([]byte, 16+64<<10)
	for i := range 400 {
		if _, err := io.ReadFull(stream, update); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if update[0] != 0 || update[3] != 1 {
			t.Fatalf("update %d: bad header % x", i, update[:16])
		}
	}
	if s := e.srv.Stats(); s.Consoles != 2 {
		t.Fatalf("console closed while paused: %+v", s)
	}
	if s := e.srv.Stats(); s.PausesConsole == 0 {
		t.Fatalf("no backpressure pause counted: %+v", s)
	}
}

// bufferedToBrowsers sums the bytes queued for browsers on every loop.
func (e *env) bufferedToBrowsers() int {
	total := 0
	var mu sync.Mutex
	e.srv.eachLoop(func(ls *loopState) {
		for _, s := range ls.sessions {
			mu.Lock()
			total += s.browser.OutboundBuffered()
			if s.pipe != nil {
				total += s.pipe.n
			}
			mu.Unlock()
		}
	})
	return total
}

// batchedCount sums the loops' counts of browser → console payloads that
// went through the batch (toConsole).
func (e *env) batchedCount() int64 {
	var mu sync.Mutex
	var n int64
	e.srv.eachLoop(func(ls *loopState) {
		mu.Lock()
		defer mu.Unlock()
		n += ls.batched
		if len(ls.batch) != 0 {
			e.t.Errorf("loop %d holds %d batched bytes between reads", ls.index, len(ls.batch))
		}
	})
	return n
}

// noVNCEvents returns n pointer events of 6 bytes (RFB PointerEvent) as
// masked frames, and their payloads end to end.
func noVNCEvents(n, seed int) (frames, payloads []byte) {
	for i := range n {
		p := []byte{5, byte(i), byte(seed), byte(i >> 8), 0, byte(i * 7)}
		frames = append(frames, frame(true, wsframe.OpBinary, p)...)
		payloads = append(payloads, p...)
	}
	return frames, payloads
}

// TestSmallFramesBatched: many small frames in one read (noVNC's pointer
// events), mixed with a ping, a fragmented message and a frame too large for
// the batch, reach the console in order and byte-exact; the small ones went
// through the loop's batch, which is empty again after the read.
func TestSmallFramesBatched(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	w := e.dial()
	w.rfbHandshake()
	var burst, want []byte
	add := func(f, p []byte) { burst, want = append(burst, f...), append(want, p...) }
	add(noVNCEvents(150, 1))
	add(frame(false, wsframe.OpBinary, []byte("frag-")), []byte("frag-"))
	burst = append(burst, frame(true, wsframe.OpPing, []byte("mid"))...) // between fragments
	add(frame(true, wsframe.OpContinuation, []byte("ment")), []byte("ment"))
	big := bytes.Repeat([]byte("0123456789abcdef"), (consoleBatchMax+4096)/16)
	add(frame(true, wsframe.OpBinary, big), big)
	add(noVNCEvents(150, 3))
	w.write(burst)

	var got []byte
	sawPong := false
	for len(got) < len(want) || !sawPong {
		op, p, err := w.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), len(want), err)
		}
		switch op {
		case wsframe.OpPong:
			sawPong = string(p) == "mid"
		case wsframe.OpBinary:
			got = append(got, p...)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("console echoed %d bytes that differ from the %d sent", len(got), len(want))
	}
	if n := e.batchedCount(); n < 100 {
		t.Fatalf("%d payloads batched, want most of the 300 small frames", n)
	}
}

// TestSmallFramesBeforeClose: small frames and a close frame in one read:
// every payload reaches the console before the relay closes it.
func TestSmallFramesBeforeClose(t *testing.T) {
	ln := loopbackListener(t)
	got := drainConsole(ln, 0)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticResolver(t, ln.Addr().String()) })
	w := e.dial()
	burst, want := noVNCEvents(200, 4)
	burst = append(burst, frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "bye"))...)
	w.write(burst)
	w.expectClose(wsframe.CloseNormal)
	expectDrained(t, got, want, "the close")
	if n := e.batchedCount(); n == 0 {
		t.Fatal("no payload batched")
	}
}

// loopbackListener listens on 127.0.0.1 for the test's length.
func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// drainConsole takes one console connection on ln and, after delay (a slow
// console: the relay holds what it sent), reads it to its end: the channel
// gets what it read once the relay closes it, within 20 s, or nil if no
// connection came.
func drainConsole(ln net.Listener, delay time.Duration) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		time.Sleep(delay)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	return got
}

// expectDrained waits for drainConsole's answer and fails the test unless
// the console got exactly want before its end (before: what want came
// before, for the message).
func expectDrained(t *testing.T, got <-chan []byte, want []byte, before string) {
	t.Helper()
	select {
	case b := <-got:
		if !bytes.Equal(b, want) {
			t.Fatalf("console got %d bytes before its end, want the %d sent before %s (first difference at %d)",
				len(b), len(want), before, firstDiff(b, want))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("console never saw its end")
	}
}
