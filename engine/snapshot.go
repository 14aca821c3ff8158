package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// ConsoleInfo is a copy of one browser connection's fields, taken on its
// event loop by Server.Consoles. It holds no token: TokenMask is auth.Mask's
// form and Target masks an address that holds the token.
type ConsoleInfo struct {
	Loop      int       // index of the event loop (LoopInfo.Index)
	Client    string    // the browser's address, host:port
	Forwarded bool      // Client came from a trusted proxy (PROXY header, X-Forwarded-For, Forwarded)
	Target    string    // the console's address as logs show it; "" before the dial
	TokenMask string    // auth.Mask of the token; "" before the request was read
	Opened    time.Time // when the connection was accepted
	// State is where the connection is: "handshake", "connecting",
	// "console_setup", "relaying" or "closing".
	State string
	// BytesIn and BytesOut are the payload bytes relayed so far, browser →
	// console and console → browser.
	BytesIn, BytesOut int64
	// PausedConsole is set while the console's reads are paused because the
	// browser is slow; PausedBrowser while the browser's are paused because
	// the console is slow (Config.HighWater).
	PausedConsole, PausedBrowser bool
}

// LoopInfo is one event loop's figures, read on the loop by Server.Loops.
type LoopInfo struct {
	// Index numbers the loops 0, 1, ... in the order they took their first
	// connection; a loop that never had one is not listed.
	Index int
	// Connections are the browser connections on the loop now, in any
	// state; Consoles those relaying; Paused the consoles with a direction
	// paused for backpressure.
	Connections, Consoles, Paused int
	// BytesIn and BytesOut are the payload bytes relayed by every console
	// that has been on the loop, closed and open: the sum over loops only
	// grows, so it can be exported as a counter.
	BytesIn, BytesOut uint64
}

// snapshotTimeout bounds a snapshot when ctx has no deadline.
const snapshotTimeout = 2 * time.Second

// Loops returns each event loop's figures, in Index order. Each loop fills
// its own entry on its goroutine, so the figures of one loop are consistent
// with each other. It returns an error, with the loops that did answer, when
// ctx ends (or 2 s pass, when ctx has no deadline) before every loop has.
func (s *Server) Loops(ctx context.Context) ([]LoopInfo, error) {
	res, err := onLoops(ctx, s, func(ls *loopState) LoopInfo {
		li := LoopInfo{Index: ls.index, Connections: len(ls.sessions),
			BytesIn: uint64(ls.closedIn), BytesOut: uint64(ls.closedOut)}
		for _, ss := range ls.sessions {
			if ss.state != stateRelaying {
				continue
			}
			li.Consoles++
			li.BytesIn += uint64(ss.bytesIn)
			li.BytesOut += uint64(ss.bytesOut)
			if ss.pausedByWho != 0 {
				li.Paused++
			}
		}
		return li
	})
	slices.SortFunc(res, func(a, b LoopInfo) int { return a.Index - b.Index })
	return res, err
}

// Consoles returns a copy of up to max browser connections (consoles and
// connections still in their handshake), max per loop and max in all; which
// ones are kept when there are more is unspecified. Each loop copies its
// sessions' fields on its own goroutine. It returns an error, with what it
// has, when ctx ends (or 2 s pass, when ctx has no deadline) before every
// loop has answered.
func (s *Server) Consoles(ctx context.Context, max int) ([]ConsoleInfo, error) {
	if max <= 0 {
		return nil, nil
	}
	per, err := onLoops(ctx, s, func(ls *loopState) []ConsoleInfo {
		n := min(len(ls.sessions), max)
		out := make([]ConsoleInfo, 0, n)
		for _, ss := range ls.sessions[:n] {
			out = append(out, ss.info())
		}
		return out
	})
	var all []ConsoleInfo
	for _, p := range per {
		all = append(all, p[:min(len(p), max-len(all))]...)
	}
	return all, err
}

// info copies the session's fields; it runs on the session's loop.
func (s *session) info() ConsoleInfo {
	ci := ConsoleInfo{Loop: s.loop.index, Client: s.logClient().String(), Forwarded: s.forwarded, TokenMask: s.tokenMask, Opened: time.Unix(0, s.opened),
		State: s.state.String(), BytesIn: s.bytesIn, BytesOut: s.bytesOut,
		PausedConsole: s.pausedByWho&pauseConsole != 0, PausedBrowser: s.pausedByWho&pauseBrowser != 0}
	if s.targetAddr != "" {
		ci.Target = s.target().String()
	}
	return ci
}

// onLoops runs f on every event loop, on the loop's goroutine, and collects
// the results until every loop has answered or ctx ends. A loop that answers
// late writes into a buffered channel nobody reads: f's result is dropped,
// and no goroutine waits for it.
func onLoops[T any](ctx context.Context, s *Server, f func(*loopState) T) ([]T, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, snapshotTimeout)
		defer cancel()
	}
	s.mu.Lock()
	loops := make([]*loopState, 0, len(s.loops))
	for _, ls := range s.loops {
		loops = append(loops, ls)
	}
	s.mu.Unlock()
	results := make(chan T, len(loops))
	asked := 0
	for _, ls := range loops {
		err := ls.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			results <- f(ls)
			return nil
		}))
		if err == nil {
			asked++
		}
	}
	out := make([]T, 0, asked)
	for len(out) < asked {
		select {
		case r := <-results:
			out = append(out, r)
		case <-ctx.Done():
			return out, fmt.Errorf("snapshot of event loops: %d of %d answered: %w", len(out), asked, ctx.Err())
		}
	}
	if asked < len(loops) {
		return out, errors.New("snapshot of event loops: the server is stopping")
	}
	return out, nil
}

// Ready reports whether the server takes new consoles: nil once Serve has
// started and until Shutdown (or the idle timeout) stops it; otherwise an
// error that says which.
func (s *Server) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return errors.New("draining: the relay is shutting down")
	case !s.serving:
		return errors.New("not serving yet")
	}
	return nil
}

// WorkersBusy returns the worker slots in use (token lookups with dials, web
// file reads running now) and the number of slots (Config.Workers). A request
// that finds every slot busy is refused 503.
func (s *Server) WorkersBusy() (busy, slots int) { return len(s.jobs), cap(s.jobs) }
