package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Default lifetimes and size of a Cache's entries.
const (
	// DefaultPositiveTTL is how long a found token's target is reused. With
	// it, a token deleted from the store stops opening consoles within 2 s
	// plus one lookup's deadline in flight, inside the 5 s promised to
	// operators (docs/STORES.md).
	DefaultPositiveTTL = 2 * time.Second
	// DefaultNegativeTTL is how long an unknown token is answered as
	// unknown without asking the store again: a burst of wrong tokens costs
	// the store one query per token per second. A token written to the store
	// just after a browser tried it works at most this much later.
	DefaultNegativeTTL = 1 * time.Second
	// DefaultCacheEntries bounds the entries kept, found and unknown together.
	DefaultCacheEntries = 100_000
)

// Cache is the one lookup path in front of a store that answers over the
// network or the file system (Redis, a token API, a directory): it shares a
// lookup among the callers asking for the same token at once (singleflight),
// keeps found targets for TTL and unknown tokens for NegativeTTL, and never
// keeps an error (store down, timeout, bad answer), so that the next lookup
// asks the store again. TokenFile needs no Cache: it has its own freshness
// rule.
//
// The shared lookup runs with the deadline of the caller that started it,
// but is not cancelled when that caller goes away; a caller whose context
// ends first gets its context's error while the lookup goes on for the
// others. At most one lookup per token is in flight, so a store outage with N
// pending handshakes holds at most N distinct tokens' lookups, each bounded by
// its deadline.
//
// A target whose Expires is set is kept no later than that time. The zero
// value is not usable: Store must be set. Entries are checked for expiry when
// read, and expired ones are swept when the cache is full; a full cache of
// live entries stops adding until some expire.
type Cache struct {
	// Store answers the lookups the cache cannot.
	Store Resolver
	// TTL is how long a found target is kept; 0 means DefaultPositiveTTL and
	// a negative value keeps nothing found.
	TTL time.Duration
	// NegativeTTL is how long an unknown token is kept; 0 means
	// DefaultNegativeTTL and a negative value keeps nothing unknown.
	NegativeTTL time.Duration
	// MaxEntries bounds the entries kept; 0 means DefaultCacheEntries.
	MaxEntries int

	now     func() time.Time // tests
	sf      singleflight.Group
	sfCheck singleflight.Group // Recheck's lookups, never joined to Resolve's

	mu      sync.Mutex
	entries map[string]cacheEntry
}

// cacheEntry is a kept answer: found when ok, unknown otherwise.
type cacheEntry struct {
	target  Target
	ok      bool
	refused error // when not ok: the store's error (ErrUnknownToken, or wrapping it with a reason)
	expires time.Time
}

// Resolve implements Resolver: a kept answer when one is fresh, otherwise
// the store's answer, shared with concurrent callers for the same token.
func (c *Cache) Resolve(ctx context.Context, token string) (Target, error) {
	now := c.clock()
	c.mu.Lock()
	e, hit := c.entries[token]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		if !e.ok {
			return Target{}, e.refused
		}
		return e.target, nil
	}
	return c.flight(ctx, &c.sf, token, "token lookup")
}

// ResolveNow implements ImmediateResolver: a kept answer while it is
// fresh, else ErrWouldBlock (the store must be asked: Resolve), as it is
// when another goroutine holds the cache's lock at that moment.
func (c *Cache) ResolveNow(token string) (Target, error) {
	now := c.clock()
	if !c.mu.TryLock() { // held by a writer, maybe for an eviction scan: never wait on a loop
		return Target{}, ErrWouldBlock
	}
	e, hit := c.entries[token]
	c.mu.Unlock()
	switch {
	case !hit || !now.Before(e.expires):
		return Target{}, ErrWouldBlock
	case !e.ok:
		return Target{}, e.refused
	}
	return e.target, nil
}

// lookup asks the store under the starting caller's deadline, detached from
// its cancellation, and keeps the answer.
func (c *Cache) lookup(ctx context.Context, token string) (Target, error) {
	lctx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithDeadline(lctx, dl)
		defer cancel()
	}
	t, err := c.Store.Resolve(lctx, token)
	switch {
	case err == nil:
		if ttl := c.ttl(c.TTL, DefaultPositiveTTL); ttl > 0 {
			exp := c.clock().Add(ttl)
			if !t.Expires.IsZero() && t.Expires.Before(exp) {
				exp = t.Expires
			}
			c.keep(token, cacheEntry{target: t, ok: true, expires: exp})
		}
	case errors.Is(err, ErrUnknownToken):
		if ttl := c.ttl(c.NegativeTTL, DefaultNegativeTTL); ttl > 0 {
			c.keep(token, cacheEntry{refused: err, expires: c.clock().Add(ttl)})
		}
	}
	return t, err
}

// Recheck implements Rechecker: it asks the store, whatever is kept for
// token, and keeps the answer (an unknown token replaces a kept target, so
// new lookups are refused at once). Concurrent rechecks of one token share a
// query; a recheck never joins a lookup Resolve started earlier, which may
// have begun before a revocation.
func (c *Cache) Recheck(ctx context.Context, token string) (Target, error) {
	return c.flight(ctx, &c.sfCheck, token, "token recheck")
}

// flight runs c.lookup for token in g, joining a lookup of token already
// under way there, and waits for its answer or for ctx to end (then an
// error that names op and wraps ctx's).
func (c *Cache) flight(ctx context.Context, g *singleflight.Group, token, op string) (Target, error) {
	ch := g.DoChan(token, func() (any, error) { return c.lookup(ctx, token) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return Target{}, r.Err
		}
		return r.Val.(Target), nil
	case <-ctx.Done():
		return Target{}, fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

// keep stores e for token, sweeping expired entries when the cache is full.
func (c *Cache) keep(token string, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cacheEntry{}
	}
	limit := c.MaxEntries
	if limit <= 0 {
		limit = DefaultCacheEntries
	}
	if _, present := c.entries[token]; !present && len(c.entries) >= limit {
		now := c.clock()
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= limit {
			return
		}
	}
	c.entries[token] = e
}

// Forget drops what is kept for token, so that its next lookup asks the
// store (a revocation known to the caller).
func (c *Cache) Forget(token string) {
	c.mu.Lock()
	delete(c.entries, token)
	c.mu.Unlock()
}

// Len returns the number of entries kept, fresh or not yet swept.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *Cache) ttl(set, def time.Duration) time.Duration {
	if set == 0 {
		return def
	}
	return set
}

func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
