package engine

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// patternConsole is a raw TCP console: to each connection it writes size
// bytes of a pattern (forever when size < 0) in chunks of random sizes, now
// and then pausing so that the relay also sees small reads, then closes.
// It returns its address and the pattern's first size bytes.
func patternConsole(t *testing.T, size int, seed uint64) (string, []byte) {
	return patternConsoleOf(t, size, seed, false)
}

// largeConsole is patternConsole writing only large chunks, without pauses:
// every read the relay makes is large enough to splice.
func largeConsole(t *testing.T, size int, seed uint64) (string, []byte) {
	return patternConsoleOf(t, size, seed, true)
}

func patternConsoleOf(t *testing.T, size int, seed uint64, large bool) (string, []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const period = 1 << 20 // the pattern repeats every MiB
	data := make([]byte, period+256<<10)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range data[:period] {
		data[i] = byte(rng.Uint32())
	}
	copy(data[period:], data)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := rand.New(rand.NewPCG(seed, 2))
				for off := 0; size < 0 || off < size; {
					n := 1 + r.IntN(192<<10)
					if large {
						n = 64<<10 + r.IntN(128<<10)
					} else if r.IntN(4) == 0 {
						n = 1 + r.IntN(2<<10)
					}
					if size >= 0 {
						n = min(n, size-off)
					}
					p := off % period
					if _, err := c.Write(data[p : p+n]); err != nil {
						return
					}
					off += n
					if !large && r.IntN(16) == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	want := make([]byte, max(size, 0))
	for off := 0; off < len(want); off += period {
		copy(want[off:], data[:period])
	}
	return ln.Addr().String(), want
}

// spliceCounts sums the loops' splice counters.
func (e *env) spliceCounts() (spliced, fallbacks int64, held int) {
	spliced, fallbacks, _, held = e.spliceCounts4()
	return spliced, fallbacks, held
}

// spliceCounts4 is spliceCounts with the count of pipes moved into gnet's
// buffer.
func (e *env) spliceCounts4() (spliced, fallbacks, moved int64, held int) {
	var mu sync.Mutex
	e.srv.eachLoop(func(ls *loopState) {
		mu.Lock()
		defer mu.Unlock()
		spliced += ls.pipes.spliced
		fallbacks += ls.pipes.fallbacks
		moved += ls.pipes.moved
		for _, s := range ls.sessions {
			if s.pipe != nil {
				held++
			}
		}
	})
	return spliced, fallbacks, moved, held
}

// TestSpliceByteExact: megabytes in reads of random sizes, some spliced and
// some copied, arrive intact and in order, with pings written between them
// (heartbeat) while pipes hold bytes for a browser that reads slowly.
func TestSpliceByteExact(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		heartbeat time.Duration
		slow      bool // the browser pauses between reads: pipes wait for it
	}{
		{name: "fast browser", size: 12 << 20},
		{name: "slow browser with heartbeats", size: 6 << 20, heartbeat: 5 * time.Millisecond, slow: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, want := patternConsole(t, tt.size, uint64(i))
			e := newEnv(t, rfb.ModeEcho, func(c *Config) {
				c.Resolver = staticTarget(addr)
				c.Heartbeat = tt.heartbeat
				c.PongTimeout = time.Minute
				if tt.slow {
					c.ReadBufferSize = 16 << 10 // small frames: the reading takes seconds, heartbeats come between
				}
			})
			w := e.dial()
			got := make([]byte, 0, tt.size)
			pings := 0
			for len(got) < tt.size {
				op, p, err := w.readFrame(10 * time.Second)
				if err != nil {
					t.Fatalf("after %d of %d bytes: %v", len(got), tt.size, err)
				}
				switch op {
				case wsframe.OpBinary:
					got = append(got, p...)
				case wsframe.OpPing:
					pings++
					w.write(frame(true, wsframe.OpPong, p))
				default:
					t.Fatalf("%s frame after %d bytes", op, len(got))
				}
				if tt.slow {
					time.Sleep(3 * time.Millisecond)
				}
			}
			if !bytes.Equal(got, want) {
				at := 0
				for at < len(got) && got[at] == want[at] {
					at++
				}
				t.Fatalf("stream differs at byte %d of %d", at, len(got))
			}
			w.expectClose(wsframe.CloseNormal)
			w.expectEOF()
			spliced, _, moved, _ := e.spliceCounts4()
			if spliced == 0 {
				t.Fatal("no read was spliced")
			}
			waitFor(t, "bytes counted", func() bool { return e.srv.Stats().BytesOut == uint64(tt.size) })
			if tt.heartbeat > 0 && pings == 0 {
				t.Fatal("no heartbeat ping came")
			}
			t.Logf("%d reads spliced, %d pings, %d pipes moved to gnet's buffer for a frame", spliced, pings, moved)
		})
	}
}

// TestSpliceSlowBrowser: a browser that stops reading while its console
// streams: a pipe holds what its socket does not take, console reads pause,
// what the relay holds stays bounded, and nothing is lost once it reads. The
// ping written meanwhile follows the pipe's bytes (they are moved into gnet's
// buffer first).
func TestSpliceSlowBrowser(t *testing.T) {
	const size = 24 << 20
	addr, want := largeConsole(t, size, 7)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = staticTarget(addr)
		c.Heartbeat, c.PongTimeout = time.Hour, time.Minute // only the test's ping, and time to answer it
	})
	w := e.dial()
	first := w.readData(1 << 20)
	waitFor(t, "a pipe held for the browser", func() bool { _, _, held := e.spliceCounts(); return held == 1 })
	peak := 0
	for range 10 {
		peak = max(peak, e.bufferedToBrowsers())
		time.Sleep(20 * time.Millisecond)
	}
	e.srv.eachLoop(func(ls *loopState) { // a heartbeat, now, on the loop
		for _, s := range ls.sessions {
			if s.pipe != nil {
				s.ping(ls.now)
			}
		}
	})
	if limit := splicePipeSize + wsframe.MaxHeaderSize; peak > limit {
		t.Fatalf("relay holds %d bytes for a slow browser, limit %d", peak, limit)
	}
	if st := e.srv.Stats(); st.PausesConsole == 0 {
		t.Fatalf("no backpressure pause counted: %+v", st)
	}
	_, _, moved, _ := e.spliceCounts4()
	t.Logf("pipes moved into gnet's buffer for the ping: %d (0: the socket took the pipe's bytes first)", moved)
	rest := w.readData(size - len(first))
	got := append(first, rest...)
	if !bytes.Equal(got[:size], want) {
		t.Fatal("stream corrupted")
	}
	w.expectClose(wsframe.CloseNormal)
	w.expectEOF()
}

// TestSpliceBrowserGone: the browser closes while a pipe holds bytes for
// it: the session ends, the pipe is closed with what it held, and every
// descriptor is released (env.close checks).
func TestSpliceBrowserGone(t *testing.T) {
	addr, _ := largeConsole(t, -1, 3)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(addr) })
	w := e.dial()
	w.readData(1 << 20)
	waitFor(t, "a pipe held for the browser", func() bool { _, _, held := e.spliceCounts(); return held == 1 })
	_ = w.c.(*net.TCPConn).SetLinger(0) // a reset, as a browser tab killed
	_ = w.c.Close()
	waitFor(t, "session ended", func() bool { return e.srv.Stats().Connections == 0 })
	var free int
	e.srv.eachLoop(func(ls *loopState) { free += len(ls.pipes.free) }) // eachLoop waits: no race on free
	if open := int(e.srv.splice.open.Load()); open != free {
		t.Fatalf("%d pipes open, %d pooled: the session's pipe was not closed", open, free)
	}
}

// TestSpliceConsoleEOF: a console that writes and closes while a pipe holds
// its bytes for a slow browser: every byte reaches the browser before the
// close frame.
func TestSpliceConsoleEOF(t *testing.T) {
	const size = 8 << 20
	addr, want := largeConsole(t, size, 11)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(addr) })
	w := e.dial()
	first := w.readData(256 << 10)
	waitFor(t, "a pipe held for the browser", func() bool { _, _, held := e.spliceCounts(); return held == 1 })
	time.Sleep(200 * time.Millisecond) // the console finishes writing and closes meanwhile
	got := append(first, w.readData(size-len(first))...)
	if !bytes.Equal(got[:size], want) {
		t.Fatal("stream corrupted")
	}
	if len(got) != size {
		t.Fatalf("got %d bytes, want %d", len(got), size)
	}
	w.expectClose(wsframe.CloseNormal)
	w.expectEOF()
}

// TestSplicePoolEmpty: with the only pipe held by a console whose browser
// does not read, another console's large reads take the copy path, intact.
func TestSplicePoolEmpty(t *testing.T) {
	stalled, _ := largeConsole(t, -1, 5)
	streaming, want := patternConsole(t, 8<<20, 6)
	target := staticTarget(stalled)
	var mu sync.Mutex
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Loops = 1
		c.splicePipes = 1
		c.Resolver = resolverFunc(func() string { mu.Lock(); defer mu.Unlock(); return string(target) })
	})
	a := e.dial()
	a.readData(1 << 20)
	waitFor(t, "the only pipe held", func() bool { _, _, held := e.spliceCounts(); return held == 1 })
	mu.Lock()
	target = staticTarget(streaming)
	mu.Unlock()
	b := e.dial()
	if got := b.readData(len(want)); !bytes.Equal(got, want) {
		t.Fatal("stream corrupted on the copy path")
	}
	b.expectClose(wsframe.CloseNormal)
	if _, fallbacks, _ := e.spliceCounts(); fallbacks == 0 {
		t.Fatal("no read fell back to the copy path")
	}
	_ = a.c.Close()
}

// TestSpliceOff: SpliceMinRead < 0 never splices.
func TestSpliceOff(t *testing.T) {
	addr, want := patternConsole(t, 4<<20, 9)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(addr); c.SpliceMinRead = -1 })
	w := e.dial()
	if got := w.readData(len(want)); !bytes.Equal(got, want) {
		t.Fatal("stream corrupted")
	}
	w.expectClose(wsframe.CloseNormal)
	if spliced, _, _ := e.spliceCounts(); spliced != 0 {
		t.Fatalf("%d reads spliced with splice off", spliced)
	}
}

// resolverFunc sends every token to the address f returns at the time.
type resolverFunc func() string

func (f resolverFunc) Resolve(context.Context, string) (auth.Target, error) {
	return auth.Target{Network: "tcp", Address: f()}, nil
}

// TestSpliceNoAllocPerFrame: relaying by splice allocates nothing per frame
// (the whole process is counted: relay, console and client, none of which
// allocates per read; the runtime's own allocations are far fewer than the
// frames).
func TestSpliceNoAllocPerFrame(t *testing.T) {
	addr, _ := largeConsole(t, -1, 13)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = staticTarget(addr); c.Logger = discardLogger() })
	w := e.dial()
	buf := make([]byte, 256<<10)
	read := func(n int) {
		for got := 0; got < n; {
			k, err := w.br.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += k
		}
	}
	read(4 << 20) // warm up: the pool's pipe, buffers grown
	spliced0, _, _ := e.spliceCounts()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	read(64 << 20)
	runtime.ReadMemStats(&after)
	spliced1, _, _ := e.spliceCounts()
	frames := spliced1 - spliced0
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d frames spliced, %d allocations in the process", frames, allocs)
	if frames < 100 {
		t.Fatalf("only %d frames spliced", frames)
	}
	if allocs > uint64(frames)/4 {
		t.Fatalf("%d allocations for %d frames", allocs, frames)
	}
	_ = w.c.Close()
}
