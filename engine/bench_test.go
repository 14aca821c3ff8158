package engine

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/wsframe"
)

const benchChunk = 64 << 10

// benchConsole is a raw TCP console for benchmarks: it either writes
// chunks of a fixed buffer forever (source) or reads and discards (sink),
// without allocating per chunk.
func benchConsole(b *testing.B, source bool, received chan<- int64) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, benchChunk)
		if source {
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}
		n, _ := io.Copy(io.Discard, c)
		received <- n
	}()
	return ln.Addr().String()
}

// BenchmarkRelayConsoleToBrowser: payload bytes per second from a console
// through the relay to a WebSocket client, and the allocations per 64 KiB
// relayed (relay, console and client together, all in this process).
func BenchmarkRelayConsoleToBrowser(b *testing.B) { benchConsoleToBrowser(b, nil) }

func benchConsoleToBrowser(b *testing.B, mod func(*Config)) {
	addr := benchConsole(b, true, nil)
	e := newEnv(b, 0, func(c *Config) {
		c.Resolver = staticTarget(addr)
		c.Logger = discardLogger()
		if mod != nil {
			mod(c)
		}
	})
	w := e.dial()
	buf := make([]byte, 256<<10)
	want := int64(b.N) * benchChunk
	var got int64
	var frameLeft int64
	var hdr [wsframe.MaxHeaderSize]byte
	hn := 0
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for got < want {
		n, err := w.br.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		p := buf[:n]
		for len(p) > 0 { // count payload bytes, skipping frame headers
			if frameLeft > 0 {
				k := min(int64(len(p)), frameLeft)
				frameLeft -= k
				got += k
				p = p[k:]
				continue
			}
			c := copy(hdr[hn:], p)
			h, size, _ := wsframe.ParseHeader(hdr[:hn+c])
			if size == 0 {
				hn += c
				p = p[c:]
				continue
			}
			p = p[size-hn:]
			hn = 0
			frameLeft = h.Length
		}
	}
	b.StopTimer()
	// The process's CPU (relay, console and client) per MB: the same console
	// and client for every variant, so differences are the relay's.
	b.ReportMetric(float64(processCPU()-cpu0)/1e6/(float64(want)/1e6), "cpu-ms/MB")
	_ = w.c.Close()
}

// processCPU returns the process's user + system CPU time in nanoseconds.
func processCPU() int64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRelayBrowserToConsole: payload bytes per second from a WebSocket
// client through the relay (parse, unmask in place, write) to a console.
func BenchmarkRelayBrowserToConsole(b *testing.B) {
	received := make(chan int64, 1)
	addr := benchConsole(b, false, received)
	e := newEnv(b, 0, func(c *Config) {
		c.Resolver = staticTarget(addr)
		c.Logger = discardLogger()
		c.MaxMessageSize = 1 << 20
	})
	w := e.dial()
	f := frame(true, wsframe.OpBinary, make([]byte, benchChunk))
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := w.c.Write(f); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until the console has everything: close our side, the relay
	// closes the console after forwarding.
	_, _ = w.c.Write(frame(true, wsframe.OpClose, nil))
	select {
	case n := <-received:
		b.StopTimer()
		if n != int64(b.N)*benchChunk {
			b.Fatalf("console got %d bytes, want %d", n, int64(b.N)*benchChunk)
		}
	case <-time.After(30 * time.Second):
		b.Fatal("console did not get everything")
	}
}

// BenchmarkRelayInputEvents: noVNC's input as the relay reads it when events
// come faster than one per round trip: 32 pointer events of 6 bytes, each its
// own frame, in one write; the relay gathers them into one write to the
// console (toConsole). Events per
// second, CPU per event (relay, console and client, all in this process) and
// the allocations per burst, which must stay 0.
func BenchmarkRelayInputEvents(b *testing.B) {
	received := make(chan int64, 1)
	addr := benchConsole(b, false, received)
	e := newEnv(b, 0, func(c *Config) {
		c.Resolver = staticTarget(addr)
		c.Logger = discardLogger()
	})
	w := e.dial()
	const events = 32
	burst, payloads := noVNCEvents(events, 0)
	b.SetBytes(int64(len(payloads)))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		if _, err := w.c.Write(burst); err != nil {
			b.Fatal(err)
		}
	}
	_, _ = w.c.Write(frame(true, wsframe.OpClose, nil))
	select {
	case n := <-received:
		b.StopTimer()
		if want := int64(b.N) * int64(len(payloads)); n != want {
			b.Fatalf("console got %d bytes, want %d", n, want)
		}
	case <-time.After(30 * time.Second):
		b.Fatal("console did not get everything")
	}
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N*events), "cpu-µs/event")
	_ = w.c.Close()
}

// BenchmarkReferenceForwarder is the yardstick for the relay benchmarks: a
// plain TCP forwarder (io.Copy between two sockets, which Go turns into
// splice), carrying the same console stream to a raw TCP client. No framing,
// no WebSocket: what any relay could reach on this machine.
func BenchmarkReferenceForwarder(b *testing.B) {
	addr := benchConsole(b, true, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer up.Close()
		_, _ = io.Copy(c, up)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	want := int64(b.N) * benchChunk
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for got := int64(0); got < want; {
		n, err := c.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		got += int64(n)
	}
}

// BenchmarkRelaySpliceVsCopy: console → browser at a fixed read size (the
// relay's ReadBufferSize, which bounds a splice as it bounds a read), by
// splice through a pipe and by read + writev, for the crossover
// (Config.SpliceMinRead). Bytes per second and allocations per 64 KiB; the
// console and the client run in this process too, the same for both.
func BenchmarkRelaySpliceVsCopy(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10} {
		for _, mode := range []struct {
			name string
			min  int
		}{{"copy", -1}, {"splice", 1}} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode.name, size>>10), func(b *testing.B) {
				benchConsoleToBrowser(b, func(c *Config) {
					c.ReadBufferSize = size
					c.SpliceMinRead = mode.min
				})
			})
		}
	}
}
