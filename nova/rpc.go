package nova

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Errors of ComputeAPI calls. Each is wrapped with the operation and host.
var (
	// ErrRPCTimeout: no answer before the caller's deadline (or
	// DefaultTimeout): the compute service is down or slow, the message
	// expired in its queue, or no broker connection came up in time.
	// errors.Is(err, context.DeadlineExceeded) also holds when the
	// deadline was the cause.
	ErrRPCTimeout = errors.New("compute RPC timed out")
	// ErrNoComputeQueue: the broker had no queue for compute.<host> (the
	// host never ran nova-compute against this broker and vhost, or the
	// broker restarted and the compute has not reconnected yet).
	ErrNoComputeQueue = errors.New("no compute queue for the host")
	// ErrTooManyCalls: MaxPending calls are already waiting for answers.
	ErrTooManyCalls = errors.New("too many compute RPC calls in flight")
	// ErrRPCClosed: the ComputeAPI was closed.
	ErrRPCClosed = errors.New("compute RPC client closed")
	// ErrNoHost: the instance has no host to ask (Nova: "Unable to find
	// host for Instance").
	ErrNoHost = errors.New("instance has no compute host")
)

// ComputeAPIConfig configures a ComputeAPI. Every field but URL has a safe
// zero value; the nova.conf option each mirrors is named.
type ComputeAPIConfig struct {
	// URL is [DEFAULT] transport_url, parsed.
	URL TransportURL
	// SSL is [oslo_messaging_rabbit] ssl; the URL's ssl option overrides it,
	// as oslo lets query options override the configuration.
	SSL bool
	// TLS is the client configuration when SSL is on. The caller builds it
	// from [oslo_messaging_rabbit] ssl_ca_file, ssl_cert_file, ssl_key_file
	// (oslo then verifies the chain against ssl_ca_file, or the system roots
	// without one, and the broker's name only with
	// ssl_enforce_hostname_verification). nil means the system roots and
	// the broker's host name verified. ServerName, when empty, is set to
	// the host being dialed.
	TLS *tls.Config
	// DurableQueues is [oslo_messaging_rabbit] amqp_durable_queues (or
	// rabbit_quorum_queue): the durable flag of the control exchange when
	// this client has to create it (no compute service has yet). The URL's
	// option of the same name overrides it.
	DurableQueues bool
	// Exchange is [DEFAULT] control_exchange; "" means "nova".
	Exchange string
	// VersionCap is [upgrade_levels] compute; see ComputeRPCVersion.
	VersionCap string
	// DefaultTimeout bounds a call whose context has no deadline, as
	// [DEFAULT] rpc_response_timeout does in Nova; 0 means 60 s.
	DefaultTimeout time.Duration
	// MaxPending is the most calls waiting for answers at once; more fail
	// at once with ErrTooManyCalls. 0 means 1024.
	MaxPending int
	// Heartbeat is the AMQP heartbeat interval we propose; the broker is
	// taken as gone after three silent intervals. 0 means 20 s, which
	// matches oslo's heartbeat_timeout_threshold of 60 s.
	Heartbeat time.Duration
	// DialTimeout bounds connecting to one broker: TCP, TLS, the AMQP
	// handshake and declaring our queue. 0 means 10 s.
	DialTimeout time.Duration
	// RetryInterval is the pause after every broker failed once; it doubles
	// after each such round up to RetryMax. 0 means 250 ms; RetryMax 0
	// means 10 s.
	RetryInterval, RetryMax time.Duration
	// ConnectionName is shown by the broker (rabbitmqctl list_connections
	// client_properties); "" means "<program>:<pid>:<uuid>" as oslo names
	// its connections.
	ConnectionName string
	// Logger receives connection events (never passwords); nil discards.
	Logger *slog.Logger
}

// ComputeAPI calls Nova's compute RPC API over RabbitMQ as oslo.messaging's
// rabbit driver does, for the one method a console proxy uses:
// validate_console_port. It satisfies PortChecker.
//
// It holds one AMQP connection to one broker of the transport URL at a time
// (brokers shuffled once, then tried round-robin on failure, as oslo does),
// with two channels: one publishes calls in confirm mode, one consumes the
// process's reply queue "reply_<uuid4 hex>" (non-durable, x-expires 30 min,
// as oslo declares it, so replies to calls in flight survive a reconnect).
// A background goroutine reconnects with backoff; callers never wait for
// it past their context's deadline. Calls in flight are tracked by _msg_id,
// at most MaxPending. Safe for concurrent use; Close releases everything.
//
// On the wire, as Nova 26.2.2's proxy through oslo.messaging 14 sends it
// (TestRPC compares a captured call of each): basic.publish to the topic
// exchange "nova" (control_exchange), routing key "compute.<host>",
// properties content_type application/json, content_encoding utf-8,
// delivery_mode 2, expiration the milliseconds left before the caller's
// deadline; the body the oslo envelope {"oslo.version": "2.0",
// "oslo.message": "<JSON>"} whose message holds method
// "validate_console_port", args {instance, port, console_type}, version
// (ComputeRPCVersion), _msg_id, _reply_q, _timeout, _unique_id and Nova's
// admin context as _context_* keys. Differences a compute cannot see: the
// publish is mandatory (an unroutable call comes back at once as
// ErrNoComputeQueue instead of timing out), and empty application headers
// and priority 0, which kombu writes, are left out.
type ComputeAPI struct {
	cfg      ComputeAPIConfig
	ssl      bool
	durable  bool
	version  string
	replyQ   string
	connName string
	hosts    []BrokerHost
	log      *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	sess    *rpcSession   // nil while disconnected
	ready   chan struct{} // closed when sess is set; replaced when it goes
	lastErr error         // why the last connection attempt or session ended
	pending map[string]*pendingCall

	stats struct {
		connects, calls, answered, timeouts, failures, unroutable, late atomic.Uint64
	}
}

// pendingCall is a call waiting for its reply.
type pendingCall struct {
	replies chan reply
}

// ComputeAPIStats are counters of a ComputeAPI since it was made.
type ComputeAPIStats struct {
	Connected  bool   // a broker connection is up
	Broker     string // user@host:port of it, "" when down
	Connects   uint64 // broker connections made, the first included
	Calls      uint64 // calls started
	Answered   uint64 // calls answered with a result
	Timeouts   uint64 // calls that ended with ErrRPCTimeout
	Failures   uint64 // calls answered with a remote exception
	Unroutable uint64 // calls returned by the broker (ErrNoComputeQueue)
	LateReply  uint64 // replies that came after their call had given up
	Pending    int    // calls waiting now
}

// NewComputeAPI checks cfg and starts connecting in the background; it
// does not wait for a broker (see WaitConnected).
func NewComputeAPI(cfg ComputeAPIConfig) (*ComputeAPI, error) {
	version, err := ComputeRPCVersion(cfg.VersionCap)
	if err != nil {
		return nil, fmt.Errorf("compute RPC: %w", err)
	}
	if len(cfg.URL.Hosts) == 0 {
		return nil, fmt.Errorf("compute RPC: %w: no broker hosts", ErrTransportURL)
	}
	c := &ComputeAPI{
		cfg:     cfg,
		ssl:     cfg.SSL,
		durable: cfg.DurableQueues,
		version: version,
		replyQ:  "reply_" + uuid4(),
		log:     cfg.Logger,
		ready:   make(chan struct{}),
		pending: map[string]*pendingCall{},
	}
	if v, set, err := cfg.URL.Bool("ssl"); err != nil {
		return nil, fmt.Errorf("compute RPC: %w", err)
	} else if set {
		c.ssl = v
	}
	for _, opt := range []string{"amqp_durable_queues", "rabbit_quorum_queue"} {
		if v, set, err := cfg.URL.Bool(opt); err != nil {
			return nil, fmt.Errorf("compute RPC: %w", err)
		} else if set && v {
			c.durable = true
		}
	}
	if c.cfg.Exchange == "" {
		c.cfg.Exchange = DefaultControlExchange
	}
	setDefault(&c.cfg.DefaultTimeout, 60*time.Second)
	setDefault(&c.cfg.Heartbeat, 20*time.Second)
	setDefault(&c.cfg.DialTimeout, 10*time.Second)
	setDefault(&c.cfg.RetryInterval, 250*time.Millisecond)
	setDefault(&c.cfg.RetryMax, 10*time.Second)
	if c.cfg.MaxPending <= 0 {
		c.cfg.MaxPending = 1024
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.connName = cfg.ConnectionName
	if c.connName == "" {
		c.connName = filepath.Base(os.Args[0]) + ":" + strconv.Itoa(os.Getpid()) + ":" + uuid4()
	}
	c.hosts = append([]BrokerHost(nil), cfg.URL.Hosts...)
	rand.Shuffle(len(c.hosts), func(i, j int) { c.hosts[i], c.hosts[j] = c.hosts[j], c.hosts[i] })
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// RPCVersion returns the version put on validate_console_port messages.
func (c *ComputeAPI) RPCVersion() string { return c.version }

// ReplyQueue returns the name of this process's reply queue.
func (c *ComputeAPI) ReplyQueue() string { return c.replyQ }

// WaitConnected waits until a broker connection is up, ctx ends (the error
// then says why the last attempt failed) or c is closed.
func (c *ComputeAPI) WaitConnected(ctx context.Context) error {
	_, err := c.session(ctx)
	return err
}

// ValidateConsolePort asks the compute service on inst.Host whether port is
// inst's console port of consoleType ("novnc", "serial", "spice-html5",
// ...): nova.compute.rpcapi.ComputeAPI.validate_console_port. It returns
// the compute's answer: true only for a JSON true result. A remote
// exception is a *RemoteError; no answer in time is ErrRPCTimeout; the
// caller refuses the console on any error. The call is bounded by ctx's
// deadline, or DefaultTimeout when ctx has none.
func (c *ComputeAPI) ValidateConsolePort(ctx context.Context, inst InstanceInfo, port string, consoleType string) (bool, error) {
	if !inst.Host.Valid || inst.Host.String == "" {
		return false, fmt.Errorf("validate_console_port for instance %s: %w", inst.UUID, ErrNoHost)
	}
	m := callMessage{inst: &inst, port: port, consoleType: consoleType}
	res, err := c.call(ctx, inst.Host.String, &m)
	if err != nil {
		return false, fmt.Errorf("validate_console_port on %s for instance %s: %w", inst.Host.String, inst.UUID, err)
	}
	return string(res) == "true", nil
}

// call sends m to the compute service of host and waits for its result
// (JSON), bounded by ctx or DefaultTimeout.
//
// The caller's goroutine publishes the call itself and then waits only for
// the reply: the broker's confirm is not waited for, since the reply (or the
// broker's return of an unroutable call) comes after it anyway. It is read
// only when the connection is lost before the reply: a confirmed call is in
// the compute's queue and its reply will reach our reply queue, which
// outlives the connection, so the caller keeps waiting; an unconfirmed one
// is published again on the next connection (same _unique_id, so a compute
// that got the first copy drops the second: the call stays at most once).
func (c *ComputeAPI) call(ctx context.Context, host string, m *callMessage) (json.RawMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.DefaultTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	routingKey := ComputeTopic + "." + host
	if len(routingKey) > 255 {
		return nil, fmt.Errorf("routing key %q: longer than 255 bytes", routingKey[:40]+"...")
	}
	c.stats.calls.Add(1)
	m.version = c.version
	m.msgID = uuid4()
	m.replyQ = c.replyQ
	m.uniqueID = uuid4()
	m.requestID = requestID()
	m.now = time.Now()
	// Nova asks for call-monitor heartbeats when its timeout is longer than
	// HEARTBEAT_THRESHOLD; so do we, from the time left.
	if time.Until(deadline) > callMonitorThreshold {
		m.monitor = int(callMonitorThreshold / time.Second)
	}
	bp := bodyPool.Get().(*[]byte)
	body := m.appendBody((*bp)[:0])
	defer func() {
		if cap(body) <= 64<<10 {
			*bp = body[:0]
			bodyPool.Put(bp)
		}
	}()
	p := &pendingCall{replies: make(chan reply, 4)}
	if err := c.addPending(m.msgID, p); err != nil {
		return nil, err
	}
	defer c.removePending(m.msgID)

	var lastErr error
	for attempt := 0; ; {
		s, err := c.session(ctx)
		if err != nil {
			return nil, c.countErr(err)
		}
		// The message expires in its queue when the caller stops waiting,
		// as oslo sets expiration to the call's timeout.
		ms := max(time.Until(deadline).Milliseconds(), 1)
		confirm, err := s.publish(ctx, routingKey, body, strconv.FormatInt(ms, 10))
		if err == nil {
			var res json.RawMessage
			res, err = c.wait(ctx, p, m.monitor > 0, s, confirm)
			if !errors.Is(err, errSessionLost) {
				return res, c.countErr(err)
			}
		} else {
			// The library refuses a publish only on a closed channel or
			// connection: the session is ending; wait for the next.
			select {
			case <-s.done:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return nil, c.countErr(timeoutErr(ctx, err))
		}
		if errors.Is(err, ErrRPCClosed) {
			return nil, err
		}
		lastErr = err
		if attempt++; attempt >= maxPublishAttempts {
			return nil, c.countErr(fmt.Errorf("publish to %s: %w", routingKey, lastErr))
		}
	}
}

// countErr counts a call's outcome and returns err.
func (c *ComputeAPI) countErr(err error) error {
	var re *RemoteError
	switch {
	case err == nil:
		c.stats.answered.Add(1)
	case errors.Is(err, ErrRPCTimeout):
		c.stats.timeouts.Add(1)
	case errors.Is(err, ErrNoComputeQueue):
		c.stats.unroutable.Add(1)
	case errors.As(err, &re):
		c.stats.failures.Add(1)
	}
	return err
}

func (c *ComputeAPI) addPending(id string, p *pendingCall) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return ErrRPCClosed
	}
	if len(c.pending) >= c.cfg.MaxPending {
		return ErrTooManyCalls
	}
	c.pending[id] = p
	return nil
}

func (c *ComputeAPI) removePending(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// maxPublishAttempts bounds publishing a call again whose publish the broker
// did not confirm before the connection was lost. The message keeps its
// _unique_id, so a compute that got the first copy drops the second
// (oslo's duplicate check): the call stays at most once.
const maxPublishAttempts = 3

// timeoutErr wraps ErrRPCTimeout and the context's error, with why.
func timeoutErr(ctx context.Context, why error) error {
	if why == nil || errors.Is(why, ctx.Err()) {
		return fmt.Errorf("%w: %w", ErrRPCTimeout, ctx.Err())
	}
	return fmt.Errorf("%w: %w (%v)", ErrRPCTimeout, ctx.Err(), why)
}

// wait waits for the reply of a call published on session s. With monitor
// set, the compute sends a heartbeat every half callMonitorThreshold;
// silence for the whole threshold ends the call as oslo's ReplyWaiter
// does. When s ends first, wait returns errSessionLost unless the broker
// had confirmed the publish, and then goes on waiting.
func (c *ComputeAPI) wait(ctx context.Context, p *pendingCall, monitor bool, s *rpcSession, confirm *amqp.DeferredConfirmation) (json.RawMessage, error) {
	var silence <-chan time.Time
	var timer *time.Timer
	if monitor {
		timer = time.NewTimer(callMonitorThreshold)
		defer timer.Stop()
		silence = timer.C
	}
	lost := s.done
	var result json.RawMessage
	for {
		select {
		case r := <-p.replies:
			switch {
			case r.returned:
				return nil, ErrNoComputeQueue
			case r.failure != nil:
				return nil, r.failure
			case r.heartbeat():
				if timer != nil {
					timer.Reset(callMonitorThreshold)
				}
				continue
			}
			if r.result != nil {
				result = r.result
			}
			if r.ending {
				return result, nil
			}
		case <-lost:
			if confirm == nil || !confirm.Acked() {
				return nil, errSessionLost
			}
			lost = nil // in the compute's queue: the reply will come
		case <-silence:
			return nil, fmt.Errorf("%w: no heartbeat from the compute for %v", ErrRPCTimeout, callMonitorThreshold)
		case <-ctx.Done():
			return nil, timeoutErr(ctx, nil)
		case <-c.ctx.Done():
			return nil, ErrRPCClosed
		}
	}
}

// session returns the current broker session, waiting for one until ctx
// ends or c closes.
func (c *ComputeAPI) session(ctx context.Context) (*rpcSession, error) {
	for {
		c.mu.Lock()
		s, ready, last := c.sess, c.ready, c.lastErr
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			if last != nil {
				return nil, timeoutErr(ctx, fmt.Errorf("no broker connection: %w", last))
			}
			return nil, timeoutErr(ctx, errors.New("no broker connection yet"))
		case <-c.ctx.Done():
			return nil, ErrRPCClosed
		}
	}
}

// deliver hands a reply to the call waiting for msgID, if any.
func (c *ComputeAPI) deliver(msgID string, r reply) {
	c.mu.Lock()
	p := c.pending[msgID]
	c.mu.Unlock()
	if p == nil {
		c.stats.late.Add(1)
		return
	}
	select {
	case p.replies <- r:
	default: // more replies than a call gets; the first ones decide
	}
}

// Stats returns the client's counters.
func (c *ComputeAPI) Stats() ComputeAPIStats {
	c.mu.Lock()
	st := ComputeAPIStats{Connected: c.sess != nil, Pending: len(c.pending)}
	if c.sess != nil {
		st.Broker = c.sess.broker.String()
	}
	c.mu.Unlock()
	st.Connects = c.stats.connects.Load()
	st.Calls = c.stats.calls.Load()
	st.Answered = c.stats.answered.Load()
	st.Timeouts = c.stats.timeouts.Load()
	st.Failures = c.stats.failures.Load()
	st.Unroutable = c.stats.unroutable.Load()
	st.LateReply = c.stats.late.Load()
	return st
}

// Close stops reconnecting, deletes the reply queue (best effort, bounded
// by a second) and closes the broker connection; calls in flight end with
// ErrRPCClosed. It waits for every goroutine of c and may be called more
// than once.
func (c *ComputeAPI) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// run is the connection supervisor: connect, serve until the session
// ends, reconnect with backoff, across the brokers round-robin.
func (c *ComputeAPI) run() {
	defer c.wg.Done()
	backoff := c.cfg.RetryInterval
	next := 0
	for failed := 0; c.ctx.Err() == nil; {
		host := c.hosts[next%len(c.hosts)]
		next++
		s, err := c.connect(host)
		if err != nil {
			c.setLastErr(err)
			c.log.Warn("compute RPC: broker connection failed", "broker", host.String(), "err", err)
			if failed++; failed%len(c.hosts) == 0 {
				select {
				case <-time.After(backoff):
				case <-c.ctx.Done():
				}
				backoff = min(backoff*2, c.cfg.RetryMax)
			}
			continue
		}
		failed, backoff = 0, c.cfg.RetryInterval
		c.stats.connects.Add(1)
		c.log.Info("compute RPC: connected", "broker", host.String(), "reply_queue", c.replyQ)
		c.mu.Lock()
		c.sess = s
		close(c.ready)
		c.mu.Unlock()

		why := s.serve(c.ctx)

		c.mu.Lock()
		c.sess = nil
		c.ready = make(chan struct{})
		c.lastErr = why
		c.mu.Unlock()
		s.close(c.ctx.Err() != nil)
		if c.ctx.Err() == nil {
			c.log.Warn("compute RPC: broker connection lost", "broker", host.String(), "err", why)
		}
	}
}

func (c *ComputeAPI) setLastErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// rpcSession is one broker connection and its channels.
type rpcSession struct {
	api    *ComputeAPI
	broker BrokerHost
	nc     net.Conn
	conn   *amqp.Connection
	pub    *amqp.Channel // confirm mode; publishes calls
	cons   *amqp.Channel // consumes the reply queue

	done chan struct{} // closed when the session ends
	wg   sync.WaitGroup

	flowMu    sync.Mutex
	unblocked chan struct{} // not nil while the broker blocks us; closed when it stops

	connClosed chan *amqp.Error
	pubClosed  chan *amqp.Error
	consClosed chan *amqp.Error
	cancelled  chan string
}

var errSessionLost = errors.New("broker connection lost")

// deadlineConn bounds every write to the broker by timeout: callers
// publish from their own goroutines, and a broker that stops reading (flow
// control that began after the caller looked, a hung node) must not hold
// them, or the library's connection lock, for longer. A write that times
// out breaks the AMQP connection, and the supervisor reconnects.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

// Write sets the write deadline and writes p.
func (d deadlineConn) Write(p []byte) (int, error) {
	if err := d.Conn.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	return d.Conn.Write(p)
}

// connect dials one broker and sets up a session, all bounded by
// DialTimeout and by Close.
func (c *ComputeAPI) connect(h BrokerHost) (*rpcSession, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", h.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", h.Addr(), err)
	}
	// Whatever blocks below (TLS, AMQP handshake, declarations) ends when
	// the socket closes: at the dial timeout or at Close.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	s, err := c.setup(ctx, h, nc)
	if !stop() {
		err = errors.Join(err, fmt.Errorf("connect to %s: %w", h, context.Cause(ctx)))
	}
	if err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// abort tears down a session that failed during setup: closing the socket
// ends the AMQP connection and with it every goroutine of the session.
func (s *rpcSession) abort() {
	_ = s.nc.Close()
	if s.conn != nil {
		_ = s.conn.Close()
	}
	if s.done != nil {
		close(s.done)
	}
	s.wg.Wait()
}

// setup runs TLS and the AMQP handshake on nc, declares what calls need and
// starts the session's goroutines.
func (c *ComputeAPI) setup(ctx context.Context, h BrokerHost, nc net.Conn) (*rpcSession, error) {
	s := &rpcSession{api: c, broker: h, nc: nc}
	var rw net.Conn = nc
	if c.ssl {
		cfg := &tls.Config{}
		if c.cfg.TLS != nil {
			cfg = c.cfg.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = h.Host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return s, fmt.Errorf("TLS with %s: %w", h.Addr(), err)
		}
		rw = tc
	}
	rw = deadlineConn{Conn: rw, timeout: c.cfg.DialTimeout}
	conn, err := amqp.Open(rw, amqp.Config{
		// oslo's default rabbit_login_method is AMQPLAIN; PLAIN for brokers
		// that allow only it.
		SASL: []amqp.Authentication{
			&amqp.AMQPlainAuth{Username: h.Username, Password: h.Password},
			&amqp.PlainAuth{Username: h.Username, Password: h.Password},
		},
		Vhost:     c.cfg.URL.VirtualHost,
		Heartbeat: c.cfg.Heartbeat,
		Locale:    "en_US",
		Properties: amqp.Table{
			"product":         "vncrelay",
			"platform":        "Go",
			"connection_name": c.connName,
		},
	})
	if err != nil {
		return s, fmt.Errorf("AMQP login to %s vhost %q: %w", h, c.cfg.URL.VirtualHost, err)
	}
	s.conn = conn
	if err := s.declare(); err != nil {
		return s, err
	}
	s.done = make(chan struct{})
	s.connClosed = conn.NotifyClose(make(chan *amqp.Error, 1))
	s.pubClosed = s.pub.NotifyClose(make(chan *amqp.Error, 1))
	s.consClosed = s.cons.NotifyClose(make(chan *amqp.Error, 1))
	s.cancelled = s.cons.NotifyCancel(make(chan string, 1))
	returns := s.pub.NotifyReturn(make(chan amqp.Return, 16))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	deliveries, err := s.cons.Consume(c.replyQ, "", true, false, false, false, nil)
	if err != nil {
		return s, fmt.Errorf("consume %s: %w", c.replyQ, err)
	}
	s.wg.Add(3)
	go s.consume(deliveries)
	go s.returns(returns)
	go s.blocked(blocked)
	return s, nil
}

// declare makes sure the control exchange exists and declares the reply
// queue, and opens the two channels.
func (s *rpcSession) declare() error {
	c := s.api
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	// Passive first, so that an exchange made by compute services with
	// other flags is used as it is; created as oslo's topic_send would
	// (topic, durable per amqp_durable_queues, not auto-delete) otherwise.
	if err := ch.ExchangeDeclarePassive(c.cfg.Exchange, amqp.ExchangeTopic, c.durable, false, false, false, nil); err != nil {
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
			return fmt.Errorf("check exchange %s: %w", c.cfg.Exchange, err)
		}
		if ch, err = s.conn.Channel(); err != nil {
			return fmt.Errorf("open channel: %w", err)
		}
		if err := ch.ExchangeDeclare(c.cfg.Exchange, amqp.ExchangeTopic, c.durable, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", c.cfg.Exchange, err)
		}
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode: %w", err)
	}
	s.pub = ch
	if s.cons, err = s.conn.Channel(); err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	// oslo's declare_direct_consumer: not durable, not auto-delete, not
	// exclusive, x-expires rabbit_transient_queues_ttl.
	_, err = s.cons.QueueDeclare(c.replyQ, false, false, false, false, amqp.Table{"x-expires": int32(replyQueueExpires)})
	if err != nil {
		return fmt.Errorf("declare %s: %w", c.replyQ, err)
	}
	return nil
}

// serve waits until the session fails or ctx ends, and says why.
func (s *rpcSession) serve(ctx context.Context) error {
	select {
	case err := <-s.connClosed:
		return closeReason("connection", err)
	case err := <-s.pubClosed:
		return closeReason("publish channel", err)
	case err := <-s.consClosed:
		return closeReason("reply channel", err)
	case <-s.cancelled:
		return fmt.Errorf("broker cancelled the consumer of %s (queue deleted?)", s.api.replyQ)
	case <-ctx.Done():
		return ErrRPCClosed
	}
}

func closeReason(what string, err *amqp.Error) error {
	if err == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, err)
}

// close ends the session: it deletes the reply queue
// when the client is closing, closes the connection and waits for the
// session's goroutines. Every wait on the broker is bounded by a second.
func (s *rpcSession) close(final bool) {
	close(s.done)
	guard := time.AfterFunc(time.Second, func() { _ = s.nc.Close() })
	defer guard.Stop()
	if final && !s.conn.IsClosed() {
		if _, err := s.cons.QueueDelete(s.api.replyQ, false, false, false); err != nil {
			s.api.log.Debug("compute RPC: delete reply queue", "err", err)
		}
	}
	_ = s.conn.CloseDeadline(time.Now().Add(time.Second))
	_ = s.nc.Close()
	s.wg.Wait()
}

// publish sends one call on the session's publish channel, from the
// caller's goroutine, and returns the broker's deferred confirm. While the
// broker blocks the connection (flow control) it waits for the block to
// lift, bounded by ctx and the session's end; a write that stalls anyway
// (the block came after the check) is bounded by the socket's write
// deadline (deadlineConn), which ends the session.
func (s *rpcSession) publish(ctx context.Context, key string, body []byte, expiration string) (*amqp.DeferredConfirmation, error) {
	s.flowMu.Lock()
	unblocked := s.unblocked
	s.flowMu.Unlock()
	if unblocked != nil {
		select {
		case <-unblocked:
		case <-s.done:
			return nil, errSessionLost
		case <-ctx.Done():
			return nil, fmt.Errorf("broker blocked the connection: %w", ctx.Err())
		}
	}
	dc, err := s.pub.PublishWithDeferredConfirm(s.api.cfg.Exchange, key, true, false, amqp.Publishing{
		// kombu's json serializer, oslo's persistent default.
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Expiration:      expiration,
		Body:            body,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSessionLost, err)
	}
	return dc, nil
}

// consume routes replies to their calls.
func (s *rpcSession) consume(deliveries <-chan amqp.Delivery) {
	defer s.wg.Done()
	for d := range deliveries {
		id, r, err := decodeReply(d.Body)
		if err != nil {
			s.api.log.Warn("compute RPC: undecodable reply dropped", "err", err)
			continue
		}
		s.api.deliver(id, r)
	}
}

// returns routes calls the broker could not route (mandatory flag) back to
// their callers.
func (s *rpcSession) returns(ch <-chan amqp.Return) {
	defer s.wg.Done()
	for r := range ch {
		if id := messageID(r.Body); id != "" {
			s.api.deliver(id, reply{returned: true})
		}
	}
}

// blocked logs the broker's flow control of the connection.
func (s *rpcSession) blocked(ch <-chan amqp.Blocking) {
	defer s.wg.Done()
	for b := range ch {
		s.flowMu.Lock()
		switch {
		case b.Active && s.unblocked == nil:
			s.unblocked = make(chan struct{})
		case !b.Active && s.unblocked != nil:
			close(s.unblocked)
			s.unblocked = nil
		}
		s.flowMu.Unlock()
		if b.Active {
			s.api.log.Warn("compute RPC: broker blocked the connection", "broker", s.broker.String(), "reason", b.Reason)
		} else {
			s.api.log.Info("compute RPC: broker unblocked the connection", "broker", s.broker.String())
		}
	}
}

var _ PortChecker = (*ComputeAPI)(nil)
