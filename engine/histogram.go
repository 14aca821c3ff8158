package engine

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the engine's latency histograms,
// shared by all of them: 100 µs to 10 s, roughly ×2.5 per step, which covers
// a token lookup in a local file (tens of µs land in the first bucket) up to a
// console that answers at the ConnectTimeout default. A value above the last
// bound lands in the overflow bucket (Prometheus' +Inf).
var LatencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// histogram counts durations in the fixed LatencyBounds buckets. Observing
// one is two atomic adds (its bucket and the sum) and no allocation, so any
// goroutine may record into it; a reader sees each field consistent on its
// own, and the count is the sum of the buckets.
type histogram struct {
	buckets [len(LatencyBounds) + 1]atomic.Uint64 // not cumulative; the last is the overflow
	sum     atomic.Int64                          // nanoseconds
}

// observe records d (a negative d counts as zero).
func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(int64(d))
}

// since records the time elapsed since t.
func (h *histogram) since(t time.Time) { h.observe(time.Since(t)) }

func (h *histogram) snapshot() Histogram {
	var out Histogram
	for i := range h.buckets {
		out.Counts[i] = h.buckets[i].Load()
	}
	out.Sum = time.Duration(h.sum.Load())
	return out
}

// Histogram is a copy of one latency histogram: Counts[i] is the number of
// durations d with LatencyBounds[i-1] < d <= LatencyBounds[i] (not
// cumulative); the last element counts those above the last bound. Sum is the
// total of every duration counted. The zero value is an empty histogram.
type Histogram struct {
	Counts [len(LatencyBounds) + 1]uint64
	Sum    time.Duration
}

// Count returns the number of durations counted.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Latencies are the engine's latency histograms, read with
// Server.Latencies. Each phase of opening a console has one.
type Latencies struct {
	// Handshake is the time from accept to the 101 response sent, for every
	// console that opened: what the browser waited, all phases together.
	Handshake Histogram
	// TokenLookup is the time Config.Resolver took, for every lookup,
	// whatever its answer.
	TokenLookup Histogram
	// Dial is the time to connect to the console, for every dial, whether it
	// succeeded or not.
	Dial Histogram
	// ConsoleSetup is the time from the console socket's enrollment to the
	// 101, for consoles that need work before it (CONNECT tunnel, RFB
	// security proxy) and got through it; a failed setup is counted in the
	// refusals (502, 504) instead.
	ConsoleSetup Histogram
}

// latencies is the live form of Latencies.
type latencies struct {
	handshake, lookup, dial, setup histogram
}

// Latencies returns a copy of the latency histograms.
func (s *Server) Latencies() Latencies {
	l := &s.lat
	return Latencies{
		Handshake: l.handshake.snapshot(), TokenLookup: l.lookup.snapshot(),
		Dial: l.dial.snapshot(), ConsoleSetup: l.setup.snapshot(),
	}
}

// openDone records a console's open as its 101 goes out: the whole handshake
// and, when there was one, the console setup.
func (l *latencies) openDone(s *session) {
	now := time.Now()
	l.handshake.observe(time.Duration(now.UnixNano() - s.opened))
	if o := s.op; !o.setupStart.IsZero() {
		l.setup.observe(now.Sub(o.setupStart))
		o.setupStart = time.Time{}
	}
}
