package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vncrelay/vncrelay/internal/novatest"
)

// Nova relay commands, for RelaySpec.Command. {novaconf} is the control
// plane's nova.conf (NovaPlane.Spec supplies it); the listen port comes on
// the command line, as oslo.config reads it, so one nova.conf serves every run.
const (
	// NovaNoVNCProxyCommand is Nova's own proxy as Debian installs it
	// (nova-consoleproxy): websockify forking one process per console,
	// Nova's RFB security proxy, oslo.db and oslo.messaging in each child.
	NovaNoVNCProxyCommand = "/usr/bin/nova-novncproxy --config-file {novaconf} --vnc-novncproxy_host 127.0.0.1 --vnc-novncproxy_port {port}"
	// VncrelayNovaCommand is vncrelay's Nova mode; {vncrelay} is the binary.
	VncrelayNovaCommand = "{vncrelay} nova novnc --config-file {novaconf} --vnc-novncproxy_host 127.0.0.1 --vnc-novncproxy_port {port}"
)

// Names in the Nova control plane.
const (
	// NovaComputeHost is the compute host the instances run on; the
	// compute stand-in serves its RPC queue.
	NovaComputeHost = "compute1"
	// NovaProxyUser is the MariaDB and RabbitMQ user the proxies log in
	// as, so that their connections can be counted apart from the
	// harness's own (Nova's helper, the compute stand-in, root).
	NovaProxyUser = "nova_proxy"
	// MariaDBDefaultMaxConnections is MariaDB's default max_connections,
	// the bound a deployment that does not tune it has.
	MariaDBDefaultMaxConnections = 151
)

// NovaOptions configure StartNovaPlane. Zero values take the defaults in
// brackets.
type NovaOptions struct {
	// DBMaxConnections is MariaDB's max_connections, set with SET GLOBAL
	// once Nova's schema is made [MariaDBDefaultMaxConnections].
	DBMaxConnections int
	// TokenTTL is the lifetime of the tokens made for a run [1h].
	TokenTTL time.Duration
	// Progress receives what the plane is doing; nil for nothing.
	Progress func(string)
}

// NovaPlane is a Nova control plane on loopback for the Nova relay presets:
// a private MariaDB with Nova's schema made by nova-manage, a private
// RabbitMQ node, a nova-compute stand-in for NovaComputeHost answering
// validate_console_port over oslo.messaging with Nova's RPC server code,
// and a helper that makes instances and console tokens with Nova's objects.
// Every relay given a Spec by it shares it; runs are sequential, so each
// run's counts are the relay's own.
type NovaPlane struct {
	nova    *novatest.Nova
	bulk    *novatest.Bulk
	rabbit  *novatest.Rabbit
	compute *novatest.FakeCompute
	dir     string // nova.conf for the proxies, the broker's files
	conf    string
	ttl     time.Duration

	mu        sync.Mutex // one run's tokens at a time
	last      []string   // instances of the previous run, whose tokens go first
	callsSeen int        // compute calls made before this run
}

// StartNovaPlane starts the plane (about 30 s on 2 cores: Nova's schema
// takes most of it). The caller must call Close.
func StartNovaPlane(o NovaOptions) (*NovaPlane, error) {
	if o.DBMaxConnections <= 0 {
		o.DBMaxConnections = MariaDBDefaultMaxConnections
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	dir, err := os.MkdirTemp("", "vncrelay-bench-nova-")
	if err != nil {
		return nil, err
	}
	p := &NovaPlane{dir: dir, ttl: o.TokenTTL}
	password := randomHex(12) // unreserved characters: no escaping in URLs

	// The database and the broker start side by side.
	var wg sync.WaitGroup
	var dbErr, mqErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		var db *novatest.MariaDB
		if db, dbErr = novatest.NewMariaDB(); dbErr != nil {
			return
		}
		if p.nova, dbErr = novatest.SetupNova(db); dbErr != nil {
			_ = db.Close()
			return
		}
		dbErr = errors.Join(
			db.Exec(fmt.Sprintf("SET GLOBAL max_connections = %d", o.DBMaxConnections)),
			db.CreateUser(NovaProxyUser, password, "ALL", "nova.*", "nova_api.*"))
		if dbErr == nil {
			p.bulk, dbErr = novatest.NewBulk(p.nova)
		}
	}()
	go func() {
		defer wg.Done()
		mqDir := filepath.Join(dir, "rabbitmq")
		if mqErr = os.Mkdir(mqDir, 0o700); mqErr != nil {
			return
		}
		if p.rabbit, mqErr = novatest.NewRabbitMQ(mqDir); mqErr != nil {
			return
		}
		if mqErr = p.rabbit.AddUser(NovaProxyUser, password); mqErr != nil {
			return
		}
		computeDir := filepath.Join(dir, "compute")
		if mqErr = os.Mkdir(computeDir, 0o700); mqErr == nil {
			p.compute, mqErr = novatest.NewFakeCompute(computeDir, p.rabbit.URL(), NovaComputeHost)
		}
	}()
	o.Progress("starting Nova's control plane: MariaDB + nova-manage schema, RabbitMQ, compute stand-in")
	wg.Wait()
	if err := errors.Join(dbErr, mqErr); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("nova control plane: %w", err)
	}
	p.conf = filepath.Join(dir, "nova.conf")
	transport := fmt.Sprintf("rabbit://%s:%s@%s/%s", NovaProxyUser, password, p.rabbit.Addr(), p.rabbit.VHost)
	if err := os.WriteFile(p.conf, []byte(p.novaConf(transport, password)), 0o600); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// novaConf is the proxies' nova.conf: a controller's, trimmed to what a
// console proxy reads. The listen address comes on the command line.
func (p *NovaPlane) novaConf(transport, password string) string {
	return fmt.Sprintf(`[DEFAULT]
transport_url = %s
my_ip = 127.0.0.1
state_path = %s
debug = false
web = /usr/share/novnc

[vnc]
enabled = true
novncproxy_host = 127.0.0.1

[database]
connection = %s

[oslo_concurrency]
lock_path = %s
`, transport, filepath.Join(p.dir, "state"), p.nova.DB.SQLAlchemyURL(NovaProxyUser, password, "nova"),
		filepath.Join(p.dir, "lock"))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ConfigFile is the nova.conf the proxies run with ({novaconf}).
func (p *NovaPlane) ConfigFile() string { return p.conf }

// Spec returns a relay measured against the plane: command is a template
// with {novaconf} and {port} (NovaNoVNCProxyCommand, VncrelayNovaCommand);
// clients ask for "/?token=" as Nova's console URLs do; each run gets one
// token per session made by Nova's code; the probe counts the relay's
// database and broker connections.
func (p *NovaPlane) Spec(name, command string) RelaySpec {
	return RelaySpec{
		Name:       name,
		Command:    command,
		Path:       "/",
		Tokens:     p.tokens,
		Probe:      p.probe,
		BackendCPU: p.backendCPU,
		Explain:    ExplainNovaFailures,
	}
}

// tokens makes the tokens of one run: one instance per console on
// NovaComputeHost, the stand-in told to confirm each instance's port, and
// n tokens for those instances in turn (session i reaches cons.Addr(i)).
// The previous run's tokens are deleted first, and MariaDB's status
// counters (Max_used_connections) reset.
func (p *NovaPlane) tokens(ctx context.Context, cons *Consoles, n int) (RunTokens, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.last) > 0 {
		if err := p.bulk.DeleteTokens(p.last); err != nil {
			return RunTokens{}, err
		}
		p.last = nil
	}
	k := len(cons.addrs)
	insts, err := p.bulk.CreateInstances(novatest.InstanceSpec{Host: NovaComputeHost}, k)
	if err != nil {
		return RunTokens{}, err
	}
	hosts, ports := make([]string, k), make([]int, k)
	for i, inst := range insts {
		host, port, err := net.SplitHostPort(cons.Addr(i))
		if err != nil {
			return RunTokens{}, err
		}
		hosts[i] = host
		if ports[i], err = strconv.Atoi(port); err != nil {
			return RunTokens{}, err
		}
		if err := p.compute.SetAnswer(inst.UUID, novatest.ComputeAnswer{Port: port}); err != nil {
			return RunTokens{}, err
		}
		p.last = append(p.last, inst.UUID)
	}
	specs := make([]novatest.TokenSpec, n)
	for i := range specs {
		specs[i] = novatest.TokenSpec{InstanceUUID: insts[i%k].UUID, Host: hosts[i%k], Port: ports[i%k],
			TTL: int(p.ttl / time.Second), AccessURLBase: "http://127.0.0.1:6080/vnc_lite.html"}
	}
	toks, err := p.bulk.CreateTokens(specs)
	if err != nil {
		return RunTokens{}, err
	}
	if err := p.nova.DB.Exec("FLUSH STATUS"); err != nil {
		return RunTokens{}, err
	}
	if err := p.deleteReplyQueues(); err != nil {
		return RunTokens{}, err
	}
	p.callsSeen = len(p.compute.Calls())
	return RunTokens{Tokens: toks, Vars: map[string]string{"novaconf": p.conf}}, ctx.Err()
}

// probe counts the proxy's connections now: database sessions of
// NovaProxyUser (the server's process list), the server's
// Threads_connected and Max_used_connections since the run began (every
// user's: the harness holds 1 to 3), the broker's connections and channels
// of NovaProxyUser, and the reply queues on the vhost (rabbitmqctl; those
// of earlier runs were deleted at the run's start). A count that could not
// be read is left out.
func (p *NovaPlane) probe(ctx context.Context) map[string]float64 {
	m := map[string]float64{}
	if n, err := p.nova.DB.Connections(NovaProxyUser); err == nil {
		m["db_conns"] = float64(n)
	}
	for name, key := range map[string]string{"Threads_connected": "db_server_conns", "Max_used_connections": "db_server_peak_conns"} {
		var v string
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		// SHOW cannot take a placeholder; name is one of two constants.
		err := p.nova.DB.Root().QueryRowContext(qctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(new(string), &v)
		cancel()
		if f, perr := strconv.ParseFloat(v, 64); err == nil && perr == nil {
			m[key] = f
		}
	}
	count := func(key string, args ...string) {
		rows, err := p.rabbit.Table(args...)
		if err != nil {
			return
		}
		n := 0
		for _, r := range rows {
			if len(r) > 0 && (r[0] == NovaProxyUser || strings.HasPrefix(r[0], "reply_")) {
				n++
			}
		}
		m[key] = float64(n)
	}
	count("amqp_conns", "list_connections", "user")
	count("amqp_channels", "list_channels", "user")
	count("amqp_reply_queues", "list_queues", "-p", p.rabbit.VHost, "name")
	p.computeLag(m)
	return m
}

// computeLag adds how long the run's compute calls took to reach the
// stand-in's validate_console_port (from the _context_timestamp the proxy
// stamped when it built the message to the stand-in's dispatch: publish,
// broker queue, the stand-in's consumer), in milliseconds: median, 99th
// percentile and most, and the number of calls; and the longest the
// stand-in was held writing its own event line to the harness (a stall of
// the stand-in that is the harness's doing). A proxy's RPC deadline
// (vncrelay: the 10 s connect timeout; Nova: rpc_response_timeout) that
// this lag approaches is the stand-in or the broker falling behind, not
// the proxy.
func (p *NovaPlane) computeLag(m map[string]float64) {
	p.mu.Lock()
	seen := p.callsSeen
	p.mu.Unlock()
	calls := p.compute.Calls()
	if len(calls) <= seen {
		return
	}
	lags := make([]float64, 0, len(calls)-seen)
	emit := 0.0
	for _, c := range calls[seen:] {
		lags = append(lags, c.LagMS)
		emit = max(emit, c.PrevEmitMS)
	}
	m["compute_emit_max_ms"] = emit
	slices.Sort(lags)
	m["compute_calls"] = float64(len(lags))
	m["compute_lag_p50_ms"] = lags[len(lags)/2]
	m["compute_lag_p99_ms"] = lags[len(lags)*99/100]
	m["compute_lag_max_ms"] = lags[len(lags)-1]
}

// deleteReplyQueues deletes the reply queues earlier runs left on the
// broker (Nova's proxy leaves one per console it opened, until
// rabbit_transient_queues_ttl expires it), so that a run's counts are its own.
func (p *NovaPlane) deleteReplyQueues() error {
	rows, err := p.rabbit.Table("list_queues", "-p", p.rabbit.VHost, "name")
	if err != nil {
		return err
	}
	conn, err := p.rabbit.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	for _, r := range rows {
		if len(r) > 0 && strings.HasPrefix(r[0], "reply_") {
			if _, err := ch.QueueDelete(r[0], false, false, false); err != nil {
				return fmt.Errorf("delete queue %s: %w", r[0], err)
			}
		}
	}
	return nil
}

// backendCPU is the CPU seconds of MariaDB, RabbitMQ and the compute
// stand-in so far.
func (p *NovaPlane) backendCPU() float64 {
	total := 0.0
	for _, pid := range []int{p.nova.DB.PID(), p.rabbit.PID(), p.compute.PID()} {
		if pid == 0 {
			continue
		}
		if c, err := TreeCPU(pid); err == nil {
			total += c
		}
	}
	return total
}

// Close stops everything the plane started.
func (p *NovaPlane) Close() error {
	var errs []error
	if p.bulk != nil {
		errs = append(errs, p.bulk.Close())
	}
	if p.compute != nil {
		errs = append(errs, p.compute.Stop())
	}
	if p.rabbit != nil {
		errs = append(errs, p.rabbit.Stop())
	}
	if p.nova != nil {
		errs = append(errs, p.nova.Close(), p.nova.DB.Close())
	}
	errs = append(errs, os.RemoveAll(p.dir))
	return errors.Join(errs...)
}

// novaFailures are log lines that say why consoles failed, and what each
// means.
var novaFailures = []struct{ pattern, reason string }{
	{"Too many connections", "MariaDB refused a connection: max_connections reached (error 1040)"},
	{"Too many open files", "descriptor limit reached (EMFILE)"},
	{"filedescriptor out of range", "select() met descriptor 1024"},
	{"Cannot allocate memory", "out of memory"},
	{"MessagingTimeout", "compute RPC timed out"},
	{"nova database unavailable", "database unavailable"},
	{"compute port check failed", "compute port check failed"},
	// What vncrelay's compute check failures were (its log line holds the
	// cause after "compute port check failed").
	{"compute RPC timed out", "compute RPC timed out (vncrelay: no reply before the connect deadline)"},
	{"no compute queue for the host", "no compute queue for the host (vncrelay: the broker returned the call)"},
	{"too many compute RPC calls in flight", "too many compute RPC calls in flight (vncrelay)"},
	{"broker connection lost", "broker connection lost (vncrelay)"},
}

// ExplainNovaFailures counts the log lines of logPath that name a known
// cause of failed consoles and says which, most frequent first; "" when
// none is found.
func ExplainNovaFailures(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	counts := make([]int, len(novaFailures))
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for lines := 0; sc.Scan() && lines < 10_000_000; lines++ {
		line := sc.Text()
		for i, nf := range novaFailures {
			if strings.Contains(line, nf.pattern) {
				counts[i]++
			}
		}
	}
	var parts []string
	for range novaFailures {
		best := -1
		for i, c := range counts {
			if c > 0 && (best < 0 || c > counts[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d log lines)", novaFailures[best].reason, counts[best]))
		counts[best] = 0
	}
	return strings.Join(parts, "; ")
}
