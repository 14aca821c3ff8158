package engine

import (
	"errors"
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
// The request is unread, and may be an upgrade, so the answer has no body
// (see session.refuse).
var busyResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n" +
	"Connection: close\r\nRetry-After: 1\r\n" + ReasonHeader + ": relay at its limits\r\n\r\n")

// acceptLoop owns the listening socket. It accepts, applies the connection
// limits, and hands each socket to the least loaded event loop. gnet never
// calls accept itself, so an accept error cannot stop its engine.
func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	defer s.ln.close()
	var backoff time.Duration
	for {
		fd, sa, err := s.ln.accept()
		if err != nil {
			if errors.Is(err, errListenerClosed) {
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
			s.refuseBusy(fd)
			continue
		}
		s.enrollBrowser(fd, sa)
	}
}

// refuseBusy answers 503 on a fresh socket and closes it. The socket's send
// buffer is empty, so the non-blocking write takes the whole answer.
func (s *Server) refuseBusy(fd int) {
	s.stats.busyRefused.Add(1)
	_, _ = unix.Write(fd, busyResponse)
	_ = unix.Close(fd)
}

// enrollBrowser hands an accepted socket to an event loop with a new
// session, without waiting for the loop to take it: the accept goroutine
// goes back to accept(2) at once. The connection and pending-handshake
// limits, checked before, bound how many sockets wait in the loops' queues.
func (s *Server) enrollBrowser(fd int, sa unix.Sockaddr) {
	sess := newSession(s, sockaddrAddrPort(sa))
	s.stats.connections.Add(1)
	s.stats.pending.Add(1)
	err := s.client.EnrollFDAsync(fd, sa, s.ln.addr, sess, func() {
		if sess.browser == nil { // the loop could not register it: fd closed, no OnOpen
			s.notEnrolled(sess, errors.New("epoll registration failed"))
		}
	})
	if err != nil { // the loop is gone: fd closed
		s.notEnrolled(sess, err)
	}
}

// notEnrolled undoes the accounting of a browser socket that never
// reached its loop.
func (s *Server) notEnrolled(sess *session, err error) {
	s.stats.connections.Add(-1)
	s.stats.pending.Add(-1)
	s.log.Warn("enroll browser socket", "client", sess.logClient(), "err", err)
}

func isFdExhaustion(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}
