package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Revocation check bounds.
const (
	// revokeConcurrency is the most store lookups one round runs at once.
	revokeConcurrency = 8
	// revokeSpread is the part of the interval a round spreads its lookups
	// over: with N distinct tokens, one starts every interval×spread/N.
	revokeSpread = 0.5
)

// closeRevoked is the close reason a browser sees when its token is revoked.
const closeRevoked = "console token revoked"

// revoker closes live consoles whose token the store no longer knows, or
// now sends elsewhere (Config.RevokeCheck). It keeps the token of every live
// console in a registry of its own, under its own lock; that is the only
// place a token outlives the lookup worker, and only with the check on.
//
// Every interval it takes a snapshot of the registry, groups the consoles by
// token and asks the store once per distinct token (auth.Recheck: past any
// cache), at most revokeConcurrency at once, the starts spread over half the
// interval, every lookup bounded by the round's deadline (the interval) and
// ConnectTimeout. A console is closed only on a definite answer: the token
// is unknown, or names another console. A lookup that fails (store down,
// timeout) keeps the console (fail-static). Closing is posted to the
// console's loop, which owns the session.
type revoker struct {
	srv   *Server
	every time.Duration

	mu   sync.Mutex
	live map[*session]revokeEntry

	quit     chan struct{}
	quitOnce sync.Once
	wg       sync.WaitGroup
	rounds   atomic.Uint64 // rounds that had consoles to check (tests)
}

// revokeEntry is what the registry keeps per live console, for its
// lifetime: 80 bytes, the token and the map's own overhead (about 120 bytes
// and the token in all). The address strings are shared with the session.
type revokeEntry struct {
	token string
	el    gnet.EventLoop // the session's loop, where its close is posted
	// Where the console is: compared with what the store answers now.
	network, address, tunnel string
}

func newRevoker(srv *Server, every time.Duration) *revoker {
	return &revoker{srv: srv, every: every, live: map[*session]revokeEntry{}, quit: make(chan struct{})}
}

// add registers a console that starts relaying; runs on its loop.
func (r *revoker) add(s *session, token string, t *auth.Target) {
	e := revokeEntry{token: token, el: s.loop.el, network: t.Network, address: t.Address, tunnel: t.TunnelPath}
	r.mu.Lock()
	r.live[s] = e
	r.mu.Unlock()
}

// remove forgets a console that ended; runs on its loop.
func (r *revoker) remove(s *session) {
	r.mu.Lock()
	delete(r.live, s)
	r.mu.Unlock()
}

// start runs the check loop until stop.
func (r *revoker) start() {
	r.wg.Add(1)
	go r.run()
}

// stop ends the check loop and waits for a round in progress (bounded by
// its deadline); safe to call more than once, and before start.
func (r *revoker) stop() {
	r.quitOnce.Do(func() { close(r.quit) })
	r.wg.Wait()
}

func (r *revoker) run() {
	defer r.wg.Done()
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			return
		case <-t.C:
			r.round()
		}
	}
}

// revokeTarget is one console of a round's snapshot.
type revokeTarget struct {
	s *session
	revokeEntry
}

// snapshot groups the live consoles by token.
func (r *revoker) snapshot() map[string][]revokeTarget {
	r.mu.Lock()
	defer r.mu.Unlock()
	by := make(map[string][]revokeTarget, len(r.live))
	for s, e := range r.live {
		by[e.token] = append(by[e.token], revokeTarget{s, e})
	}
	return by
}

// round checks every distinct token once.
func (r *revoker) round() {
	by := r.snapshot()
	if len(by) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.every)
	defer cancel()
	go func() { // stop ends a round early
		select {
		case <-r.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	gap := time.Duration(float64(r.every) * revokeSpread / float64(len(by)))
	sem := make(chan struct{}, revokeConcurrency)
	var wg sync.WaitGroup
	var failed, revoked int
	var mu sync.Mutex
	pace := time.NewTimer(0)
	defer pace.Stop()
loop:
	for token, consoles := range by {
		select {
		case <-pace.C:
			pace.Reset(gap)
		case <-ctx.Done():
			break loop
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			n, err := r.check(ctx, token, consoles)
			mu.Lock()
			revoked += n
			if err != nil {
				failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	st := &r.srv.stats
	st.revokeChecks.Add(uint64(len(by)))
	st.revokeErrors.Add(uint64(failed))
	r.rounds.Add(1)
	if failed > 0 {
		r.srv.log.Warn("revocation check: the token store did not answer; consoles kept",
			"tokens", len(by), "failed", failed, "closed", revoked)
	}
}

// check resolves one token and closes its consoles when the store says the
// token is gone or now names another console. It returns how many it closed
// and the lookup error, if the store could not decide.
func (r *revoker) check(ctx context.Context, token string, consoles []revokeTarget) (int, error) {
	lctx, cancel := context.WithTimeout(ctx, r.srv.cfg.ConnectTimeout)
	defer cancel()
	t, err := auth.Recheck(lctx, r.srv.policy.Load().resolver, token)
	unknown := errors.Is(err, auth.ErrUnknownToken)
	if err != nil && !unknown {
		return 0, err
	}
	n := 0
	for _, c := range consoles {
		switch {
		case unknown:
			r.revoke(c, "unknown token")
		case !auth.SameConsole(t, auth.Target{Network: c.network, Address: c.address, TunnelPath: c.tunnel}):
			r.revoke(c, "token names another console")
		default:
			continue
		}
		n++
	}
	return n, nil
}

// revoke posts the close of one console to its loop.
func (r *revoker) revoke(c revokeTarget, why string) {
	s := c.s
	_ = c.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if s.state != stateRelaying {
			return nil // ended meanwhile
		}
		s.srv.log.Info("console token revoked", "client", s.logClient(), "target", s.target().String(),
			"token_mask", s.tokenMask, "why", why)
		s.closeWith(wsframe.ClosePolicyViolation, closeRevoked, ReasonRevoked)
		return nil
	})) // fails only when the loops have stopped: the console is closed anyway
}
