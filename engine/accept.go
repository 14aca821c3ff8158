package engine

import (
	"errors"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Accept back-off bounds: after an accept error (EMFILE, ENFILE, ENOBUFS) the
// loop sleeps, doubling from the first to the last, as net/http's server does,
// instead of spinning or stopping.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// busyResponse refuses a connection over the limits before it costs anything.
var busyResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nRetry-After: 1\r\nContent-Length: 20\r\n\r\nrelay at its limits\n")

// acceptLoop owns the listening socket. It accepts, applies the connection
// limits, and hands each socket to the least loaded event loop. gnet never
// calls accept itself, so an accept error cannot stop its engine.
func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.stats.acceptErrors.Add(1)
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			if backoff == acceptBackoffMin || backoff == acceptBackoffMax || !isFdExhaustion(err) {
				s.log.Warn("accept failed; backing off", "err", err, "backoff", backoff)
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.stats.accepted.Add(1)
		if s.stats.connections.Load() >= int64(s.cfg.MaxConnections) ||
			s.stats.pending.Load() >= int64(s.cfg.MaxPendingHandshakes) {
			s.refuseBusy(nc)
			continue
		}
		s.enrollBrowser(nc)
	}
}

// refuseBusy answers 503 on a fresh socket and closes it. The write goes into
// an empty socket buffer, so it does not block; the deadline is a guard.
func (s *Server) refuseBusy(nc net.Conn) {
	s.stats.busyRefused.Add(1)
	_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = nc.Write(busyResponse)
	_ = nc.Close()
}

// enrollBrowser hands an accepted socket to an event loop with a new session.
func (s *Server) enrollBrowser(nc net.Conn) {
	sess := newSession(s, nc.RemoteAddr().String())
	s.stats.connections.Add(1)
	s.stats.pending.Add(1)
	if _, err := s.client.EnrollContext(nc, sess); err != nil {
		// EnrollContext closed nc; the session never opened.
		s.stats.connections.Add(-1)
		s.stats.pending.Add(-1)
		s.log.Warn("enroll browser socket", "client", sess.client, "err", err)
	}
}

func isFdExhaustion(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}
