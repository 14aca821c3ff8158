package engine

import (
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Returning memory after a burst of TLS handshakes.
//
// Each TLS handshake leaves garbage (crypto/tls's handshake state and
// buffers, certificate work, its goroutine's stack). During a
// burst of opens the heap grows with it, and the Go runtime keeps the pages
// it frees up to its collection goal, which was set during the burst: an
// idle relay would hold that memory until the runtime's periodic collection
// (2 minutes) and its background scavenger give it back, slowly. When a
// burst of at least tlsBurstHandshakes handshakes is over (none in
// progress for tlsBurstQuiet), the relay collects and returns the free
// memory at once (debug.FreeOSMemory), at most once per tlsReleaseEvery
// (a burst that ends sooner after the last release waits for it).
// It costs one collection of the live heap per burst (logged with its
// duration), on a goroutine of its own: the event loops do not wait.
const (
	tlsBurstHandshakes = 256
	tlsBurstQuiet      = time.Second
	tlsReleaseEvery    = 10 * time.Second
)

// tlsMemory is a server's bookkeeping for the release (tlsmem.go).
type tlsMemory struct {
	since   atomic.Int64 // handshakes ended since the last release
	pending atomic.Bool  // a check is scheduled
	last    atomic.Int64 // time of the last release, UnixNano
}

// handshakeEnded is called by a handshake's goroutine when it has given its
// slot back.
func (srv *Server) handshakeEnded() {
	m := &srv.tlsMem
	if m.since.Add(1) < tlsBurstHandshakes || len(srv.tlsSlots) > 0 || !m.pending.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(tlsBurstQuiet, srv.releaseAfterBurst)
}

// releaseAfterBurst returns free memory when the burst is over: at once
// when the last release is old enough, else when it is. While handshakes
// are in progress it does nothing: the last of them to end looks again.
func (srv *Server) releaseAfterBurst() {
	m := &srv.tlsMem
	if len(srv.tlsSlots) > 0 {
		m.pending.Store(false)
		return
	}
	now := time.Now()
	if wait := tlsReleaseEvery - now.Sub(time.Unix(0, m.last.Load())); wait > 0 {
		time.AfterFunc(wait, srv.releaseAfterBurst) // still pending
		return
	}
	defer m.pending.Store(false)
	n := m.since.Swap(0)
	m.last.Store(now.UnixNano())
	before := releasedBytes()
	debug.FreeOSMemory()
	srv.log.Info("memory returned after a burst of TLS handshakes", "handshakes", n,
		"released_bytes", releasedBytes()-before, "took", time.Since(now))
}

// releasedBytes is the heap memory returned to the system.
func releasedBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
