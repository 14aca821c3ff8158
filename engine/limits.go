package engine

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Defaults of the per-client limits (docs/LIMITS.md says why these).
const (
	defaultConsolesPerClient = 1000
	defaultHandshakeRate     = 20.0 // per second
	defaultHandshakeBurst    = 200
)

// Limit table bounds: limitShards shards, each a map under its own mutex.
// Entries holding a console are never evicted (there are at most
// MaxConnections of them); idle ones (a rate debt still running) are, past
// limitShardIdle per shard. So the table holds at most MaxConnections +
// limitShards × limitShardIdle entries.
const (
	limitShards    = 64
	limitShardIdle = 1024
	// evictScan is how many entries an insert into a full shard looks at
	// for idle ones to drop.
	evictScan = 16
)

// Retry-After for a refusal at a concurrency limit: a console ending is
// not predictable; a few seconds is what a retrying client should wait.
const concurrencyRetryAfter = 5

// Refusals at the per-client and per-token limits (429, OSSN-0008).
var (
	errClientConsoles = &wsframe.HTTPError{Status: http.StatusTooManyRequests,
		Reason: "too many consoles from this address", Header: "Retry-After: " + strconv.Itoa(concurrencyRetryAfter)}
	errTokenConsoles = &wsframe.HTTPError{Status: http.StatusTooManyRequests,
		Reason: "too many consoles for this token", Header: "Retry-After: " + strconv.Itoa(concurrencyRetryAfter)}
)

// limitKey names a table entry: a client address (IPv4, or an IPv6 /64), or
// a keyed hash of a token (the token itself is never kept).
type limitKey struct {
	addr  netip.Addr
	token [16]byte
}

// limitEntry is one client address's or token's state. Guarded by its
// shard's mutex.
type limitEntry struct {
	key    limitKey
	shard  uint8
	active int32 // consoles (and upgrades on their way to one) holding the entry
	tls    int32 // of those, browser TLS handshakes in progress or waiting (admitTLS)
	tat    int64 // GCRA's theoretical arrival time, unix ns: the bucket is full when tat <= now
}

type limitShard struct {
	mu sync.Mutex
	m  map[limitKey]*limitEntry
	_  [40]byte // keep shards' mutexes on separate cache lines
}

// limiter holds the per-client and per-token limits of one Server. It is
// shared by every event loop and the connect workers: a client's
// connections land on any loop, so per-loop tables would each see part of
// it. Sharded maps behind mutexes keep a critical section to a map lookup
// and two integer updates; the loops rarely meet on a shard.
type limiter struct {
	params    atomic.Pointer[limitParams] // the settings in force (Server.Reload replaces them)
	hashKey   [32]byte
	shards    [limitShards]limitShard
	pruneNext atomic.Uint32
}

// newLimiter builds the table for cfg (defaults filled in).
func newLimiter(cfg *Config) *limiter {
	l := &limiter{}
	l.params.Store(limitParamsOf(cfg))
	_, _ = rand.Read(l.hashKey[:])
	for i := range l.shards {
		l.shards[i].m = make(map[limitKey]*limitEntry)
	}
	return l
}

// clientKey is the limit key of a client address: the address for IPv4,
// its /64 for IPv6 (one subscriber's allocation).
func clientKey(a netip.Addr) limitKey {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return limitKey{addr: a}
}

// tokenKey is the limit key of a token: HMAC-SHA256 under a key made at
// start, cut to 128 bits. The table never holds the token.
func (l *limiter) tokenKey(token string) limitKey {
	m := hmac.New(sha256.New, l.hashKey[:])
	_, _ = m.Write([]byte(token))
	var k limitKey
	copy(k.token[:], m.Sum(nil))
	return k
}

func (l *limiter) shardOf(k limitKey) uint8 {
	var h uint32 = 2166136261 // FNV-1a over the key's bytes
	b := k.addr.As16()
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	for _, c := range k.token[:4] {
		h = (h ^ uint32(c)) * 16777619
	}
	return uint8(h % limitShards)
}

// admitClient counts a new upgrade from a client address at now: it takes
// a handshake from the address's bucket and a console slot. On success it
// returns the entry the session holds until it ends (release); else the
// refusal, with how long to wait in its Retry-After.
func (l *limiter) admitClient(a netip.Addr, now int64) (*limitEntry, *wsframe.HTTPError) {
	p := l.params.Load()
	if p.perClient == 0 && p.interval == 0 {
		return nil, nil
	}
	k := clientKey(a)
	sh := &l.shards[l.shardOf(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := l.entry(sh, k, now)
	if p.interval > 0 {
		tat := max(e.tat, now)
		if wait := tat - p.tolerance - now; wait > 0 {
			return nil, rateRefusal(wait)
		}
		e.tat = tat + p.interval
	}
	if p.perClient > 0 && e.active >= p.perClient {
		return nil, errClientConsoles
	}
	e.active++
	return e, nil
}

// admitTLS takes one of a client's places for browser TLS handshakes, at
// most most at once, or returns nil when they are all taken. The place
// holds the entry as a console slot does; releaseTLS gives it back.
func (l *limiter) admitTLS(a netip.Addr, now int64, most int32) *limitEntry {
	k := clientKey(a)
	sh := &l.shards[l.shardOf(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := l.entry(sh, k, now)
	if e.tls >= most {
		return nil
	}
	e.tls++
	e.active++
	return e
}

// releaseTLS gives back a place taken by admitTLS.
func (l *limiter) releaseTLS(e *limitEntry, now int64) {
	sh := &l.shards[e.shard]
	sh.mu.Lock()
	e.tls--
	if e.active--; e.active == 0 && e.tat <= now {
		delete(sh.m, e.key)
	}
	sh.mu.Unlock()
}

// admitToken takes a console slot for a token (keyed hash), or refuses.
func (l *limiter) admitToken(token string, now int64) (*limitEntry, *wsframe.HTTPError) {
	perToken := l.params.Load().perToken
	if perToken == 0 || token == "" {
		return nil, nil
	}
	k := l.tokenKey(token)
	sh := &l.shards[l.shardOf(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := l.entry(sh, k, now)
	if e.active >= perToken {
		return nil, errTokenConsoles
	}
	e.active++
	return e, nil
}

// entry finds or makes k's entry; sh is locked. A full shard first drops
// some idle entries (evictScan at most, in the map's random order).
func (l *limiter) entry(sh *limitShard, k limitKey, now int64) *limitEntry {
	if e := sh.m[k]; e != nil {
		return e
	}
	if len(sh.m) >= limitShardIdle {
		seen := 0
		for key, e := range sh.m {
			if e.active == 0 {
				delete(sh.m, key) // an idle entry, perhaps with some rate debt forgiven
			}
			if seen++; seen >= evictScan {
				break
			}
		}
	}
	e := &limitEntry{key: k, shard: l.shardOf(k), tat: now}
	sh.m[k] = e
	return e
}

// release gives back a console slot taken by admitClient or admitToken.
// An entry left with nothing to remember is dropped at once.
func (l *limiter) release(e *limitEntry, now int64) {
	if e == nil {
		return
	}
	sh := &l.shards[e.shard]
	sh.mu.Lock()
	if e.active--; e.active == 0 && e.tat <= now {
		delete(sh.m, e.key)
	}
	sh.mu.Unlock()
}

// prune drops one shard's idle entries whose bucket is full again; the
// sweeper calls it every sweepInterval, so each shard is visited every
// limitShards × sweepInterval (16 s).
func (l *limiter) prune(now int64) {
	sh := &l.shards[l.pruneNext.Add(1)%limitShards]
	sh.mu.Lock()
	for k, e := range sh.m {
		if e.active == 0 && e.tat <= now {
			delete(sh.m, k)
		}
	}
	sh.mu.Unlock()
}

// size returns the number of entries (tests).
func (l *limiter) size() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// rateRefusal is the 429 for a handshake over the rate, with the whole
// seconds until the next one is allowed.
func rateRefusal(wait int64) *wsframe.HTTPError {
	secs := (wait + int64(time.Second) - 1) / int64(time.Second)
	return &wsframe.HTTPError{Status: http.StatusTooManyRequests,
		Reason: "too many new consoles from this address", Header: "Retry-After: " + strconv.FormatInt(secs, 10)}
}

// admit applies the per-client limits to an upgrade request as soon as it
// is parsed, before its Origin, credentials or token are checked: every
// attempt counts against the rate, and a refused one costs no lookup. It
// returns the refusal (its log line names the request's token, masked), or
// nil with the session holding a console slot. A direct loopback connection
// (a process on the relay's host: a local proxy that forwards no address,
// or local tooling) is not limited per client; a forwarded address always is.
func (s *session) admit(req *wsframe.Request) *wsframe.HTTPError {
	if !s.forwarded && s.clientIP().IsLoopback() {
		return nil
	}
	e, refusal := s.srv.limits.admitClient(s.clientIP(), s.loop.now)
	s.clientSlot = e
	if refusal != nil {
		if token, _, err := auth.TokenFrom(req, s.op.pol.hostToken); err == nil {
			s.tokenMask = auth.Mask(token)
		}
	}
	return refusal
}

// admitToken runs on the connect worker once the token is known good,
// before the dial. The slot goes to the loop with the console (tokenSlot,
// claimed in claimTokenSlot); a failure before that releases it here.
func (s *session) admitToken(token string) *wsframe.HTTPError {
	e, refusal := s.srv.limits.admitToken(token, time.Now().UnixNano())
	s.tokenSlot = e
	return refusal
}

// dropTokenSlot releases the token slot on the worker, when no console
// socket reaches the loop.
func (s *session) dropTokenSlot() {
	s.srv.limits.release(s.tokenSlot, time.Now().UnixNano())
	s.tokenSlot = nil
}

// claimTokenSlot runs on the loop when the console socket arrives: the
// session owns the slot from now on, or gives it back when it has already
// ended.
func (s *session) claimTokenSlot() {
	if s.tokenSlot == nil {
		return
	}
	if s.state != stateConnecting {
		s.dropTokenSlot()
		return
	}
	s.tokenOwned = true
}

// releaseLimits gives back the session's slots when it ends.
func (s *session) releaseLimits() {
	now := s.loop.now
	if s.clientSlot != nil {
		s.srv.limits.release(s.clientSlot, now)
		s.clientSlot = nil
	}
	if s.tokenOwned {
		s.srv.limits.release(s.tokenSlot, now)
		s.tokenSlot, s.tokenOwned = nil, false
	}
}

// limitDefaults fills in the zero limit fields of c.
func (c *Config) limitDefaults() {
	if c.MaxConsolesPerClient == 0 {
		c.MaxConsolesPerClient = defaultConsolesPerClient
	}
	if c.HandshakeRate == 0 {
		c.HandshakeRate = defaultHandshakeRate
	}
	if c.HandshakeBurst <= 0 {
		c.HandshakeBurst = defaultHandshakeBurst
	}
}
