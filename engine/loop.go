package engine

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/wsframe"
)

// loopState is what the engine keeps per event loop: the sessions on it, for
// the deadline sweep and for shutdown. Owned by its loop's goroutine, except
// el, set at creation.
type loopState struct {
	srv      *Server
	el       gnet.EventLoop
	index    int        // 0, 1, ... in the order loops took their first connection; set at creation
	sessions []*session // every session whose browser socket is on this loop
	now      int64      // unix nanoseconds at the last sweep; the hot path's clock
	sweepFn  gnet.Runnable
	tls      loopTLS // scratch for the loop's TLS sockets (tlswire.go)

	closedIn, closedOut int64 // bytes of the consoles that closed on this loop (LoopInfo)

	lingering []lingering    // console sockets flushing what their gone browsers sent (consoleflush.go)
	pipes     pipePool       // empty pipes for splice (splice.go)
	freeOpens []*sessionOpen // the open state of finished opens, for reuse (sessionopen.go)

	// Scratch for a console → browser frame: its header and the iovec it
	// goes out with, used within one call on the loop. gnet's writev copies
	// what the socket does not take, and the TLS layer stages the header
	// into a record of its own (tlswire.go), so neither keeps them.
	hdr [wsframe.MaxHeaderSize]byte
	iov [2][]byte

	// Browser → console payloads of one read, gathered into one write
	// (relay.go, toConsole); empty between calls. batched counts the
	// payloads that went through it.
	batch   []byte
	batched int64
}

func newLoopState(srv *Server, el gnet.EventLoop, index int) *loopState {
	ls := &loopState{srv: srv, el: el, index: index, now: time.Now().UnixNano()}
	ls.sweepFn = gnet.RunnableFunc(func(context.Context) error {
		ls.sweep()
		return nil
	})
	return ls
}

func (ls *loopState) add(s *session) {
	s.idx = int32(len(ls.sessions))
	ls.sessions = append(ls.sessions, s)
}

func (ls *loopState) remove(s *session) {
	if s.idx < 0 {
		return
	}
	last := len(ls.sessions) - 1
	moved := ls.sessions[last]
	ls.sessions[s.idx] = moved
	moved.idx = s.idx
	ls.sessions[last] = nil
	ls.sessions = ls.sessions[:last]
	s.idx = -1
	if cap(ls.sessions) > 64 && len(ls.sessions) < cap(ls.sessions)/4 {
		ls.sessions = append([]*session(nil), ls.sessions...) // give memory back after a peak
	}
}

// sweep enforces every session's deadlines: handshake, close, heartbeat,
// pong and idle. It runs on the loop every sweepInterval. Sessions may remove
// themselves while it runs, so it walks the list from the end.
func (ls *loopState) sweep() {
	ls.now = time.Now().UnixNano()
	if len(ls.lingering) > 0 {
		ls.sweepLingering(ls.now)
	}
	for i := len(ls.sessions) - 1; i >= 0; i-- {
		if i < len(ls.sessions) {
			ls.sessions[i].tick(ls.now)
		}
	}
}

// goingAway starts the close of every session on the loop (shutdown, or
// the end of a handover when restart).
func (ls *loopState) goingAway(restart bool) {
	for i := len(ls.sessions) - 1; i >= 0; i-- {
		if i < len(ls.sessions) {
			ls.sessions[i].goingAway(restart)
		}
	}
}

// sweeper asks every loop to sweep every sweepInterval, and watches the
// server idle timeout.
func (s *Server) sweeper() {
	defer close(s.sweepDone)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	idleSince := time.Now()
	for {
		select {
		case <-s.sweepStop:
			return
		case now := <-t.C:
			s.limits.prune(now.UnixNano())
			s.mu.Lock()
			for _, ls := range s.loops {
				_ = ls.el.Execute(context.Background(), ls.sweepFn) // fails only when stopping
			}
			s.mu.Unlock()
			if s.cfg.ServerIdleTimeout <= 0 {
				continue
			}
			if s.stats.connections.Load() > 0 {
				idleSince = now
			} else if now.Sub(idleSince) >= s.cfg.ServerIdleTimeout {
				s.log.Info("server idle timeout; stopping", "idle", s.cfg.ServerIdleTimeout)
				go s.stopIdle()
				return
			}
		}
	}
}

// stopIdle shuts the server down after the idle timeout and makes Serve
// return ErrServerIdle.
func (s *Server) stopIdle() {
	s.finish(ErrServerIdle)
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.ln.shutdown()
	<-s.acceptDone
	<-s.sweepDone
	if s.revoke != nil {
		s.revoke.stop()
	}
	s.workers.Wait()
	_ = s.client.Stop()
	s.closePipes()
}
