package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// The open path. A token the resolver can answer from memory (a token file
// already read, a fresh cache entry: auth.ImmediateResolver) is looked up on
// the loop; any other lookup, and the name lookup of a console given by host
// name, runs on a worker goroutine, which hands the addresses back to the
// loop. Either way the loop connects to the console itself: a non-blocking
// connect(2) whose completion the loop's poller reports (gnet.ConnectFD), so
// that opening a console costs no goroutine, no channel and no second
// registration of the socket (net.Dialer would register it with Go's
// netpoller, and handing it to gnet then costs a dup(2) and a close(2)).

// Console socket options, as net.Dialer sets them by default: no Nagle
// delay (RFB and terminal keystrokes are small writes that must go at
// once), and TCP keep-alive probes so that a console host that vanished is
// noticed on an idle console (Go's defaults: first probe after 15 s idle,
// then every 15 s, 9 probes).
const (
	consoleKeepAliveIdle     = 15 // seconds
	consoleKeepAliveInterval = 15 // seconds
	consoleKeepAliveCount    = 9
)

// lookup resolves the token on the loop when the resolver can answer at
// once and the console's address needs no name lookup; otherwise a worker
// does both (connect).
//
// The worker is handed what it reads of the open's state (the resolver and
// the page's scheme): the session's sessionOpen goes back to the loop's
// free list if the session ends while the worker runs.
func (s *session) lookup(token string) gnet.Action {
	res, ps := s.op.pol.resolver, s.op.pageScheme
	im, ok := res.(auth.ImmediateResolver)
	if !ok {
		return s.startJob(func() { s.connect(res, ps, token) })
	}
	start := time.Now()
	t, err := im.ResolveNow(token)
	var sa unix.Sockaddr
	if err == nil {
		sa = sockaddrNow(&t) // nil: a host name to look up
	}
	if errors.Is(err, auth.ErrWouldBlock) || err == nil && sa == nil {
		return s.startJob(func() { s.connect(res, ps, token) })
	}
	s.srv.lat.lookup.since(start)
	if refusal, cause := s.admitTarget(ps, token, &t, err); refusal != nil {
		return s.refuseTarget(refusal, cause)
	}
	s.beginConnecting()
	return s.dialTarget(&t, token, []unix.Sockaddr{sa})
}

// connect runs on a worker: it resolves the token and the console's
// address, and hands them to the loop, which connects (dialTarget), or
// reports why not. The token is only ever in this goroutine, the resolver,
// and the loop's task that takes the hand-over.
func (s *session) connect(res auth.Resolver, ps pageScheme, token string) {
	srv := s.srv
	ctx, cancel := context.WithTimeout(context.Background(), srv.cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	target, err := res.Resolve(ctx, token)
	srv.lat.lookup.since(start)
	if refusal, cause := s.admitTarget(ps, token, &target, err); refusal != nil {
		s.report(refusal, cause)
		return
	}
	sas, err := sockaddrsOf(ctx, &target)
	if err != nil {
		s.dropTokenSlot()
		srv.stats.dials.Add(1)
		srv.stats.dialFailures.Add(1)
		refusal := errConsoleRefused
		if ctx.Err() != nil || isTimeout(err) {
			refusal = errConnectTimeout
		}
		s.report(refusal, fmt.Errorf("dial console %s: %w", target, err))
		return
	}
	err = s.browser.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if s.state != stateConnecting {
			s.dropTokenSlot() // closed meanwhile
			return nil
		}
		s.apply(s.dialTarget(&target, token, sas))
		return nil
	}))
	if err != nil {
		s.dropTokenSlot()
		srv.log.Debug("console hand-over after loop stop", "client", s.logClient())
	}
}

// admitTarget applies what follows a lookup, on a worker or on the loop: the
// lookup's error, the page's scheme ps against the console URL's, the
// per-token limit. It returns the refusal and, for the log, its cause. t is
// nil only with an error.
func (s *session) admitTarget(ps pageScheme, token string, t *auth.Target, err error) (*wsframe.HTTPError, error) {
	if err != nil {
		if errors.Is(err, auth.ErrUnknownToken) {
			s.logRefusalReason(err) // refusalreason.go
			return errForbidden, nil
		}
		s.srv.stats.lookupErrors.Add(1)
		s.srv.log.Error("token lookup failed", "client", s.logClient(), "token_mask", s.tokenMask, "err", err)
		return errStoreDown, nil
	}
	if !ps.allowed(t) {
		return errOriginScheme, errors.New("page scheme does not match the console URL's " + t.AccessScheme)
	}
	if refusal := s.admitToken(token); refusal != nil {
		return refusal, nil
	}
	return nil, nil
}

// refuseTarget refuses the request on the loop, logging the cause when
// there is one.
func (s *session) refuseTarget(refusal *wsframe.HTTPError, cause error) gnet.Action {
	if cause != nil {
		s.srv.log.Warn("console unreachable", "client", s.logClient(), "token_mask", s.tokenMask,
			"status", refusal.Status, "err", cause)
	}
	return s.refuse(refusal, ReasonRefused)
}

// beginConnecting moves the session to stateConnecting under the connect
// deadline. The browser stays readable: one that leaves (EOF or reset) ends
// the attempt at once, counted as gone, rather than at the connect deadline
// as a 504. Bytes it sends before the 101 pause its reads
// (pauseEarlyBrowser).
func (s *session) beginConnecting() {
	s.state = stateConnecting
	s.deadline = s.loop.now + int64(s.srv.cfg.ConnectTimeout)
}

// pauseEarlyBrowser pauses the browser's reads while the console is being
// connected or set up (before the 101) if the browser has sent anything
// after its request: those bytes wait where they were read (at most one
// read's worth), the rest in the kernel, until the console is open, so a
// client that sends frames early cannot make the relay buffer them without
// bound. A browser that sends nothing keeps its reads, which also spares
// the epoll_ctl(2) of a pause and a resume per console opened. It reports
// whether the session is in such a state.
func (s *session) pauseEarlyBrowser() bool {
	if s.state != stateConnecting && s.state != stateConsoleSetup {
		return false
	}
	if s.browser.InboundBuffered() > 0 || s.bw.InboundBuffered() > 0 {
		_ = s.browser.PauseRead()
	}
	return true
}

// dialTarget starts connecting to the console on the loop, in
// stateConnecting, with the target resolved and its addresses known.
func (s *session) dialTarget(t *auth.Target, token string, sas []unix.Sockaddr) gnet.Action {
	o := s.op
	o.dialed = t
	if s.srv.revoke != nil {
		o.revokeToken = token
	}
	s.claimTokenSlot()
	o.dial, o.dialing = dialAttempt{start: time.Now()}, true
	return s.dialNext(sas)
}

// dialNext issues a non-blocking connect(2) to the first address of sas
// that takes one, and keeps the others for connectFailed. Its completion
// comes to openConsole, its failure to consoleClosed (connectFailed).
func (s *session) dialNext(sas []unix.Sockaddr) gnet.Action {
	var err error
	for i, sa := range sas {
		s.srv.stats.dials.Add(1)
		var fd int
		if fd, err = connectNonblock(sa); err == nil {
			var c gnet.Conn
			if c, err = gnet.ConnectFD(s.browser, fd, sa, s); err == nil {
				s.console = c // closeConsole ends the attempt, as it closes a console
				s.op.dial.next = sas[i+1:]
				return gnet.None
			}
		}
		s.srv.stats.dialFailures.Add(1)
	}
	return s.dialFailed(errConsoleRefused, err)
}

// connectFailed runs when the console's connect(2) fails: the next
// address is tried, or the request refused.
func (s *session) connectFailed(err error) gnet.Action {
	s.srv.stats.dialFailures.Add(1)
	if next := s.op.dial.next; len(next) > 0 {
		return s.dialNext(next)
	}
	return s.dialFailed(errConsoleRefused, err)
}

// dialTimedOut refuses the request when the console has not answered the
// connect by the connect deadline.
func (s *session) dialTimedOut() gnet.Action {
	s.srv.stats.dialFailures.Add(1)
	return s.dialFailed(errConnectTimeout, fmt.Errorf("connect: no answer in %s", s.srv.cfg.ConnectTimeout))
}

// dialFailed refuses the request for a console that could not be reached.
// A system error is logged as it is: it never holds the address, which may
// hold the token (auth.Target.AddressHoldsToken).
func (s *session) dialFailed(refusal *wsframe.HTTPError, err error) gnet.Action {
	o := s.op
	s.srv.lat.dial.since(o.dial.start)
	o.dialing, o.dial = false, dialAttempt{}
	return s.refuseTarget(refusal, fmt.Errorf("dial console %s: %w", o.dialed, err))
}

// connectNonblock opens a non-blocking stream socket for sa and issues
// connect(2) on it. A connect still in progress is not an error: the loop's
// poller reports its end. Option errors are ignored, as net.Dialer does.
func connectNonblock(sa unix.Sockaddr) (int, error) {
	family := unix.AF_UNIX
	switch sa.(type) {
	case *unix.SockaddrInet4:
		family = unix.AF_INET
	case *unix.SockaddrInet6:
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family != unix.AF_UNIX {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, consoleKeepAliveIdle)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, consoleKeepAliveInterval)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, consoleKeepAliveCount)
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil && err != unix.EINPROGRESS {
		_ = unix.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}

// sockaddrNow returns the socket address of a target that needs no lookup
// (a unix socket path, or an IP address without a zone and a numeric
// port), or nil.
func sockaddrNow(t *auth.Target) unix.Sockaddr {
	if t.Network == "unix" {
		return &unix.SockaddrUnix{Name: t.Address}
	}
	ap, err := netip.ParseAddrPort(t.Address)
	if err != nil || ap.Addr().Zone() != "" {
		return nil
	}
	return sockaddrIP(ap.Addr(), ap.Port(), 0)
}

// sockaddrsOf returns the socket addresses of a target, looking its host
// name, port name or IPv6 zone up as net.Dialer would (the system's
// resolver, the addresses in its order), under ctx.
func sockaddrsOf(ctx context.Context, t *auth.Target) ([]unix.Sockaddr, error) {
	if sa := sockaddrNow(t); sa != nil {
		return []unix.Sockaddr{sa}, nil
	}
	if t.Network != "tcp" {
		return nil, fmt.Errorf("network %q not supported", t.Network)
	}
	host, portName, err := net.SplitHostPort(t.Address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, "tcp", portName)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		zone := uint32(0)
		if z := ip.Zone(); z != "" {
			if n, err := strconv.ParseUint(z, 10, 32); err == nil {
				zone = uint32(n)
			} else if ifc, err := net.InterfaceByName(z); err == nil {
				zone = uint32(ifc.Index)
			} else {
				return nil, fmt.Errorf("IPv6 zone %q: %w", z, err)
			}
		}
		return []unix.Sockaddr{sockaddrIP(ip, uint16(port), zone)}, nil
	}
	ips, err := lookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	sas := make([]unix.Sockaddr, 0, len(ips))
	for _, ip := range ips {
		sas = append(sas, sockaddrIP(ip, uint16(port), 0))
	}
	if len(sas) == 0 {
		return nil, fmt.Errorf("lookup %s: no addresses", host)
	}
	return sas, nil
}

// lookupNetIP looks up a console's host name (tests replace it to name a
// host with several addresses).
var lookupNetIP = net.DefaultResolver.LookupNetIP

// sockaddrIP is the socket address of ip and port; an IPv4-mapped IPv6
// address is dialed as IPv4.
func sockaddrIP(ip netip.Addr, port uint16, zone uint32) unix.Sockaddr {
	ip = ip.Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), ZoneId: zone, Addr: ip.As16()}
}
