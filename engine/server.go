package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// ErrServerIdle is returned by Serve when ServerIdleTimeout stopped the server.
var ErrServerIdle = errors.New("no console open for the idle timeout")

// sweepInterval is how often each loop checks its sessions' deadlines. Every
// timeout in the engine is enforced to within this.
const sweepInterval = 250 * time.Millisecond

// Server is a running relay. Create it with New.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ln      *rawListener
	client  *gnet.Client
	handler *handler
	stats   counters
	lat     latencies
	limits  *limiter
	jobs    chan struct{} // worker slots: a job holds one while it runs
	revoke  *revoker      // nil unless Config.RevokeCheck
	// policy is the reloadable configuration in force (Reload).
	policy   atomic.Pointer[policy]
	reloadMu sync.Mutex
	current  Config // Config's answer; guarded by reloadMu
	// tlsSlots bounds TLS handshakes in progress (MaxTLSHandshakes).
	tlsSlots chan struct{}
	tlsKeys  tlsKeyLog  // browsers' TLS secrets for the record layer's takeover (tlstakeover.go)
	tlsMem   tlsMemory  // returning memory after a burst of handshakes (tlsmem.go)
	splice   spliceConf // console → browser by splice(2) (splice.go)

	mu       sync.Mutex
	loops    map[gnet.EventLoop]*loopState
	stopping bool
	serving  bool // Serve has started the accept loop and the sweeper

	acceptDone chan struct{}
	sweepStop  chan struct{}
	sweepDone  chan struct{}
	serveErr   chan error
	closeOnce  sync.Once
	workers    sync.WaitGroup
}

// New checks cfg, listens on cfg.Listen and starts the event loops. It does not
// accept connections until Serve.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Resolver == nil {
		return nil, errors.New("engine: Config.Resolver is required")
	}
	if cfg.MaxConnections <= 0 {
		nofile, err := RaiseFileLimit()
		if err != nil {
			cfg.Logger.Warn("could not raise the descriptor limit", "err", err)
		}
		cfg.MaxConnections = ConsoleBudget(nofile)
	}
	var ln *rawListener
	var err error
	if cfg.ListenFD > 0 {
		ln, err = adoptListener(cfg.ListenFD)
	} else {
		ln, err = listenRaw(cfg.Listen, cfg.PreferIPv6, cfg.ReusePort)
	}
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		ln:         ln,
		jobs:       make(chan struct{}, cfg.Workers),
		tlsSlots:   make(chan struct{}, cfg.MaxTLSHandshakes),
		loops:      make(map[gnet.EventLoop]*loopState),
		acceptDone: make(chan struct{}),
		sweepStop:  make(chan struct{}),
		sweepDone:  make(chan struct{}),
		serveErr:   make(chan error, 1),
	}
	s.limits = newLimiter(&cfg)
	s.splice.init(&cfg)
	s.policy.Store(policyOf(&cfg))
	s.current = cfg
	s.handler = &handler{srv: s}
	if cfg.RevokeCheck > 0 {
		s.revoke = newRevoker(s, cfg.RevokeCheck)
	}
	s.client, err = gnet.NewClient(s.handler,
		gnet.WithNumEventLoop(cfg.Loops),
		gnet.WithReadBufferCap(cfg.ReadBufferSize),
		gnet.WithWriteBufferCap(cfg.ReadBufferSize),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{cfg.Logger}),
	)
	if err == nil {
		err = s.client.Start()
	}
	if err != nil {
		ln.shutdown()
		ln.close()
		return nil, fmt.Errorf("start event loops: %w", err)
	}
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.addr }

// Config returns the configuration in force, defaults filled in, with the
// reloadable fields as the last Reload set them.
func (s *Server) Config() Config {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.current
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Serve accepts connections until Shutdown (it then returns nil) or until the
// server idle timeout stops it (ErrServerIdle).
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.serving || s.stopping {
		s.mu.Unlock()
		return errors.New("engine: Serve called twice or after Shutdown")
	}
	s.serving = true
	s.mu.Unlock()
	go s.sweeper()
	if s.revoke != nil {
		s.revoke.start()
	}
	go s.acceptLoop()
	return <-s.serveErr
}

// Shutdown stops accepting, sends close 1001 to every console and waits until
// every browser has received it and every socket is closed, or until ctx ends
// or DrainTimeout passes, whichever is first; then it stops the event loops.
// It returns the number of connections that had to be cut.
func (s *Server) Shutdown(ctx context.Context) (cut int, err error) {
	return s.stop(ctx, 0)
}

// Handover retires the server in favour of another process on the same port
// (ReusePort): it stops accepting and closes the listening socket at once,
// so that the kernel sends every new connection to the other listeners,
// then keeps the open consoles until they end, keep passes or ctx ends,
// whichever is first. The consoles left then get close 1012 ("service
// restart": the browser may reconnect at once, and reaches the new process)
// and the rest is Shutdown, under DrainTimeout. It returns the number of
// connections cut at the very end, as Shutdown does.
//
// Connections in the listening socket's accept queue when it closes are
// reset by the kernel, unless net.ipv4.tcp_migrate_req is set (Linux 5.14
// and later), which moves them to another listener of the port.
func (s *Server) Handover(ctx context.Context, keep time.Duration) (cut int, err error) {
	return s.stop(ctx, max(keep, time.Nanosecond))
}

// stop is Shutdown, after keeping the consoles up to keep when above zero
// (Handover).
func (s *Server) stop(ctx context.Context, keep time.Duration) (cut int, err error) {
	s.mu.Lock()
	already, serving := s.stopping, s.serving
	s.stopping = true
	s.mu.Unlock()
	if already {
		return 0, errors.New("engine: Shutdown called twice")
	}
	s.ln.shutdown()
	if !serving { // never served: no accept loop or sweeper to wait for
		s.ln.close()
		close(s.acceptDone)
		go func() { <-s.sweepStop; close(s.sweepDone) }()
	}
	<-s.acceptDone
	if keep > 0 {
		s.keepUntilEnd(ctx, keep)
		ctx = context.Background() // the close below gets its DrainTimeout whatever ended the wait
	}
	s.log.Info("shutting down", "consoles", s.stats.consoles.Load(), "connections", s.stats.connections.Load())
	s.eachLoop(func(ls *loopState) { ls.goingAway(keep > 0) })

	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.stats.connections.Load() > 0 {
		select {
		case <-ctx.Done():
			cut = int(s.stats.connections.Load())
			s.log.Warn("drain timeout; cutting connections", "connections", cut)
			goto stop
		case <-tick.C:
		}
	}
stop:
	close(s.sweepStop)
	<-s.sweepDone
	if s.revoke != nil {
		s.revoke.stop()
	}
	s.workers.Wait() // workers finish within ConnectTimeout; their results find the loops stopped
	err = s.client.Stop()
	s.closePipes()
	s.finish(nil)
	return cut, err
}

// keepUntilEnd waits, not accepting, until no connection is left, keep
// passes or ctx ends.
func (s *Server) keepUntilEnd(ctx context.Context, keep time.Duration) {
	s.log.Info("handing over: no longer accepting; keeping open consoles",
		"consoles", s.stats.consoles.Load(), "connections", s.stats.connections.Load(), "keep", keep)
	deadline := time.NewTimer(keep)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.stats.connections.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			s.log.Info("handover deadline passed; closing consoles with 1012", "consoles", s.stats.consoles.Load())
			return
		case <-tick.C:
		}
	}
	s.log.Info("handover: every connection has ended")
}

// finish ends Serve with err, once.
func (s *Server) finish(err error) {
	s.closeOnce.Do(func() { s.serveErr <- err })
}

// loopFor returns the state of c's event loop, creating it on first use.
func (s *Server) loopFor(c gnet.Conn) *loopState {
	el := c.EventLoop()
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.loops[el]
	if ls == nil {
		ls = newLoopState(s, el, len(s.loops))
		s.loops[el] = ls
	}
	return ls
}

// eachLoop runs f on every event loop, on the loop's goroutine, and waits.
func (s *Server) eachLoop(f func(*loopState)) {
	s.mu.Lock()
	loops := make([]*loopState, 0, len(s.loops))
	for _, ls := range s.loops {
		loops = append(loops, ls)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, ls := range loops {
		wg.Add(1)
		err := ls.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			defer wg.Done()
			f(ls)
			return nil
		}))
		if err != nil {
			wg.Done() // the loop has stopped
		}
	}
	wg.Wait()
}

// trySubmit runs job on a worker goroutine if a worker slot is free.
func (s *Server) trySubmit(job func()) bool {
	select {
	case s.jobs <- struct{}{}:
	default:
		return false
	}
	s.workers.Add(1)
	go func() {
		defer func() {
			<-s.jobs
			s.workers.Done()
		}()
		job()
	}()
	return true
}
