package novatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Debian's rabbitmq-server package installs the real scripts here; the ones
// in /usr/sbin switch to the rabbitmq user, which would not own our temp dir.
const (
	rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	rabbitCtl    = "/usr/lib/rabbitmq/bin/rabbitmqctl"
)

// RabbitStartTimeout bounds the wait for a node to accept AMQP logins.
const RabbitStartTimeout = 90 * time.Second

var rabbitSeq atomic.Int32

// Rabbit is a private RabbitMQ node: its own node name
// (vncrelay-test-<pid>-<n>@localhost), AMQP and distribution ports on
// 127.0.0.1 chosen free at start, data, logs, config and Erlang cookie in a
// temp dir. It has one user with a password full of characters that a
// transport_url must percent-encode, and one virtual host ("nova") on which
// that user has every permission. epmd, which the first node on the machine
// starts, is shared and left running.
type Rabbit struct {
	Node     string // Erlang node name
	Port     int    // AMQP port on 127.0.0.1
	DistPort int    // Erlang distribution port on 127.0.0.1
	User     string
	Password string
	VHost    string
	// StartupTimes are how long each start took, from exec to the first
	// successful AMQP login (the first entry is the initial start, then one
	// per Restart).
	StartupTimes []time.Duration

	dir  string
	env  []string
	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{} // closed when proc has exited
	out  *lockedWriter // the start script's stdout/stderr
}

// StartRabbitMQ starts a private node for t and stops it when t ends. It
// fails t when the node does not come up within RabbitStartTimeout, or
// when Debian's rabbitmq-server is not installed (skips then with
// VNCRELAY_E2E_OPTIONAL=1).
func StartRabbitMQ(t testing.TB) *Rabbit {
	t.Helper()
	needPackage(t, rabbitServer, "rabbitmq-server")
	r, err := NewRabbitMQ(t.TempDir())
	if err != nil {
		t.Fatalf("start RabbitMQ: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop RabbitMQ: %v", err)
		}
	})
	t.Logf("RabbitMQ %s on 127.0.0.1:%d up in %v", r.Node, r.Port, r.StartupTimes[0].Round(time.Millisecond))
	return r
}

// NewRabbitMQ starts a private node whose files live under dir (which must
// exist and stay until Stop). The caller must call Stop.
func NewRabbitMQ(dir string) (*Rabbit, error) {
	if _, err := os.Stat(rabbitServer); err != nil {
		return nil, fmt.Errorf("rabbitmq-server not installed (Debian package rabbitmq-server): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dist, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &Rabbit{
		Node:     fmt.Sprintf("vncrelay-test-%d-%d@localhost", os.Getpid(), rabbitSeq.Add(1)),
		Port:     port,
		DistPort: dist,
		User:     "vncrelay",
		// '@', ':', '%' and '+' must be percent-encoded in a transport_url
		// (and '+' is not a space there); '#', '/' and white space are left
		// out: RabbitMQ's config format and oslo's own re-quoting break on them.
		Password: "p@ss:w%rd+" + randomHex(6),
		VHost:    "nova",
		dir:      dir,
	}
	conf := fmt.Sprintf(`listeners.tcp.1 = 127.0.0.1:%d
default_user = %s
default_pass = %s
default_vhost = %s
loopback_users = none
log.file.level = warning
log.console = false
`, port, r.User, r.Password, r.VHost)
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "", // keeps /etc/rabbitmq/rabbitmq-env.conf out
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	r.env = append(os.Environ(),
		"HOME="+dir, // the Erlang cookie, for the node and rabbitmqctl
		"RABBITMQ_NODENAME="+r.Node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	)
	if err := r.start(); err != nil {
		_ = r.Stop()
		return nil, err
	}
	return r, nil
}

// URL returns the transport_url for the node's vhost, credentials
// percent-encoded: rabbit://vncrelay:p%40ss%3Aw%25rd%2B...@127.0.0.1:<port>/nova.
func (r *Rabbit) URL() string { return r.URLFor(r.Addr()) }

// URLFor returns a transport_url listing the brokers at addrs (host:port),
// each with the node's credentials, and the node's vhost: for failover
// tests that put dead addresses beside the node's.
func (r *Rabbit) URLFor(addrs ...string) string {
	var b strings.Builder
	b.WriteString("rabbit://")
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%s@%s", url.PathEscape(r.User), escapeUserinfo(r.Password), a)
	}
	b.WriteString("/" + url.PathEscape(r.VHost))
	return b.String()
}

// escapeUserinfo percent-encodes everything but unreserved characters.
func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// Addr returns 127.0.0.1:<port>.
func (r *Rabbit) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

// start runs the node and waits until the user can log in to the vhost.
func (r *Rabbit) start() error {
	begin := time.Now()
	cmd := exec.Command(rabbitServer)
	cmd.Dir = r.dir
	cmd.Env = r.env
	out := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Stop can end the script and beam together
	// if the node does not halt.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", rabbitServer, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.proc, r.done, r.out = cmd, done, out
	r.mu.Unlock()

	deadline := time.Now().Add(RabbitStartTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("rabbitmq-server exited during startup: %s%s", out.String(), r.logTail())
		default:
		}
		conn, err := r.dialAMQP(2 * time.Second)
		if err == nil {
			_ = conn.Close()
			r.StartupTimes = append(r.StartupTimes, time.Since(begin))
			return nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("RabbitMQ node %s not up after %v: %v%s", r.Node, RabbitStartTimeout, lastErr, r.logTail())
}

// dialAMQP logs in as the test user, bounded by timeout.
func (r *Rabbit) dialAMQP(timeout time.Duration) (*amqp.Connection, error) {
	nc, err := net.DialTimeout("tcp", r.Addr(), timeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	conn, err := amqp.Open(nc, amqp.Config{
		SASL:      []amqp.Authentication{&amqp.PlainAuth{Username: r.User, Password: r.Password}},
		Vhost:     r.VHost,
		Heartbeat: 10 * time.Second,
		Locale:    "en_US",
	})
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return conn, nil
}

// Dial returns an AMQP connection to the node's vhost as the test user, for
// tests that inspect or prepare the broker themselves.
func (r *Rabbit) Dial() (*amqp.Connection, error) { return r.dialAMQP(5 * time.Second) }

// Ctl runs rabbitmqctl against the node with a 60 s bound and returns its
// standard output.
func (r *Rabbit) Ctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rabbitCtl, append([]string{"-n", r.Node}, args...)...)
	cmd.Env = r.env
	cmd.Dir = r.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// Table runs a rabbitmqctl list_* command and returns its rows split at
// tabs, without headers.
func (r *Rabbit) Table(args ...string) ([][]string, error) {
	out, err := r.Ctl(append(args, "--quiet", "--no-table-headers")...)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows, nil
}

// Restart stops the node and starts it again on the same ports with the
// same data: every client connection breaks, non-durable queues are gone.
func (r *Rabbit) Restart() error {
	if err := r.halt(); err != nil {
		return err
	}
	return r.start()
}

// Stop halts the node (rabbitmqctl stop) and waits for its processes to
// exit; if they have not after 30 s it kills the process group it started.
// Stop may be called more than once.
func (r *Rabbit) Stop() error { return r.halt() }

func (r *Rabbit) halt() error {
	r.mu.Lock()
	proc, done := r.proc, r.done
	r.proc = nil
	r.mu.Unlock()
	if proc == nil {
		return nil
	}
	_, ctlErr := r.Ctl("stop")
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
	<-done
	return errors.Join(errors.New("RabbitMQ did not halt within 30 s; killed"), ctlErr)
}

// logTail returns the end of the node's log file, for startup errors.
func (r *Rabbit) logTail() string {
	b, err := os.ReadFile(filepath.Join(r.dir, "log", r.Node+".log"))
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "\nlog tail:\n" + string(b)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before the node binds it; that shows as a startup
// failure with the node's log.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedWriter serializes writes from a child's stdout and stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns what was written so far.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
