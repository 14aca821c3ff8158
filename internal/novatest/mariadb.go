package novatest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Debian's MariaDB 10.11 binaries.
const (
	mariadbd         = "/usr/sbin/mariadbd"
	mariadbInstallDB = "/usr/bin/mariadb-install-db"
)

// MariaDBStartTimeout bounds the wait for a starting server to accept
// connections.
const MariaDBStartTimeout = 60 * time.Second

// MariaDBStopTimeout bounds the wait for a server to exit after SIGTERM;
// then its process group is killed.
const MariaDBStopTimeout = 30 * time.Second

// MariaDB is a private mariadbd: its own data directory, Unix socket and
// TCP port on 127.0.0.1 (chosen free at first start, kept across Stop and
// Start so URLs handed out stay valid), small InnoDB buffers for speed, root
// reachable without password over the socket only. Users made with
// CreateUser log in with passwords over TCP, as Nova does.
type MariaDB struct {
	Dir    string // temp directory holding data/, the socket and the log
	Port   int    // TCP port on 127.0.0.1
	Socket string // Unix socket path
	// StartupTimes are how long each start took, from exec to the first
	// answered query (the first entry is the initial start).
	StartupTimes []time.Duration

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{} // closed when proc has exited
	root *sql.DB
}

// StartMariaDB starts a private server for tb and removes it when tb ends.
func StartMariaDB(tb testing.TB) *MariaDB {
	tb.Helper()
	needPackage(tb, mariadbd, "mariadb-server")
	m, err := NewMariaDB()
	if err != nil {
		tb.Fatalf("start MariaDB: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("stop MariaDB: %v", err)
		}
	})
	tb.Logf("MariaDB on 127.0.0.1:%d up in %v", m.Port, m.StartupTimes[0].Round(time.Millisecond))
	return m
}

// NewMariaDB creates a data directory in a new temp directory and starts
// the server. The caller must call Close.
func NewMariaDB() (*MariaDB, error) {
	for _, p := range []string{mariadbd, mariadbInstallDB} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s not installed (Debian package mariadb-server): %w", p, err)
		}
	}
	// A short path: Unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "novatest-mariadb-")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Dir: dir, Socket: filepath.Join(dir, "mysqld.sock")}
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}, m.serverArgs()...)
	if out, err := exec.Command(mariadbInstallDB, args...).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		if m.Port, err = pickPort(); err == nil {
			err = m.Start()
		}
		if err == nil {
			return m, nil
		}
		// Another process took the port between pickPort and the bind.
		if attempt < 4 && strings.Contains(err.Error(), "Address already in use") {
			continue
		}
		_ = m.Close()
		return nil, err
	}
}

// serverArgs are the options of both mariadb-install-db and mariadbd:
// small, fast, private.
func (m *MariaDB) serverArgs() []string {
	args := []string{
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=8M",
		"--innodb-flush-log-at-trx-commit=2",
		"--skip-name-resolve",
		"--performance-schema=OFF",
		"--skip-log-bin",
	}
	if os.Geteuid() == 0 { // mariadbd refuses to run as root unless told
		if u, err := user.Current(); err == nil {
			args = append(args, "--user="+u.Username)
		}
	}
	return args
}

// pickPort asks the kernel for a free TCP port on 127.0.0.1.
func pickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server (again, after Stop) on m.Port and waits until it
// answers a query.
func (m *MariaDB) Start() error {
	m.mu.Lock()
	if m.proc != nil {
		m.mu.Unlock()
		return errors.New("MariaDB already running")
	}
	args := append([]string{"--no-defaults",
		"--datadir=" + filepath.Join(m.Dir, "data"),
		"--socket=" + m.Socket,
		"--port=" + strconv.Itoa(m.Port),
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(m.Dir, "mariadbd.pid"),
		"--log-error=" + filepath.Join(m.Dir, "error.log"),
		"--max-connections=300",
	}, m.serverArgs()...)
	cmd := exec.Command(mariadbd, args...)
	out, err := os.OpenFile(filepath.Join(m.Dir, "output.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, and SIGKILL if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		m.mu.Unlock()
		return fmt.Errorf("start mariadbd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.proc, m.done = cmd, done
	if m.root == nil {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.Socket
		cfg.Timeout = 2 * time.Second
		cfg.Logger = mysql.Logger(quietLogger{}) // outages are expected here
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			m.mu.Unlock()
			return err
		}
		m.root = sql.OpenDB(conn)
		m.root.SetMaxOpenConns(4)
	}
	m.mu.Unlock()
	if err := m.waitReady(done); err != nil {
		_ = m.Stop()
		return err
	}
	m.mu.Lock()
	m.StartupTimes = append(m.StartupTimes, time.Since(begin))
	m.mu.Unlock()
	return nil
}

// waitReady polls the server with a query until it answers, it exits, or
// MariaDBStartTimeout passes.
func (m *MariaDB) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(MariaDBStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := m.root.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("mariadbd exited at start: %s", m.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd not answering after %v: %w%s", MariaDBStartTimeout, err, m.logTail())
		}
	}
}

// Stop shuts the server down (SIGTERM), as an outage: clients' connections
// break, new ones are refused. After MariaDBStopTimeout the process group
// is killed. Stop may be called more than once.
func (m *MariaDB) Stop() error {
	m.mu.Lock()
	proc, done := m.proc, m.done
	m.proc = nil
	m.mu.Unlock()
	if proc == nil {
		return nil
	}
	_ = syscall.Kill(-proc.Process.Pid, syscall.SIGCONT) // in case it was paused
	_ = proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(MariaDBStopTimeout):
	}
	_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
	<-done
	return fmt.Errorf("mariadbd did not exit within %v of SIGTERM; killed", MariaDBStopTimeout)
}

// Pause stops the server process (SIGSTOP) without closing anything: the
// kernel still accepts connections and queries are sent, but nothing
// answers, as with a hung or overloaded database. It returns once every
// thread of the server is stopped. Resume continues it.
func (m *MariaDB) Pause() error {
	if err := m.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	m.mu.Lock()
	pid := m.proc.Process.Pid
	m.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !allThreadsStopped(pid) {
		if time.Now().After(deadline) {
			return errors.New("mariadbd threads not stopped 5 s after SIGSTOP")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// allThreadsStopped reports whether every thread of pid is in state T
// (/proc/<pid>/task/*/stat).
func allThreadsStopped(pid int) bool {
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		// "tid (comm) S ...": the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' && b[i+2] != 't' {
			return false
		}
	}
	return len(stats) > 0
}

// Resume continues a paused server (SIGCONT).
func (m *MariaDB) Resume() error { return m.signal(syscall.SIGCONT) }

func (m *MariaDB) signal(sig syscall.Signal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return errors.New("MariaDB not running")
	}
	return m.proc.Process.Signal(sig)
}

// Close stops the server and removes its directory.
func (m *MariaDB) Close() error {
	err := m.Stop()
	if m.root != nil {
		_ = m.root.Close()
	}
	return errors.Join(err, os.RemoveAll(m.Dir))
}

// Exec runs statements as root, one at a time.
func (m *MariaDB) Exec(statements ...string) error {
	for _, s := range statements {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := m.root.ExecContext(ctx, s)
		cancel()
		if err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}

// Root returns the root connection pool (Unix socket), for queries tests
// make about the server; do not close it.
func (m *MariaDB) Root() *sql.DB { return m.root }

// CreateUser creates user@'%' with password and grants it privileges
// ("ALL" or a list such as "SELECT") on tables ("nova.*",
// "nova.console_auth_tokens").
func (m *MariaDB) CreateUser(user, password, privileges string, tables ...string) error {
	stmts := []string{fmt.Sprintf("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", quoteSQL(user), quoteSQL(password))}
	for _, t := range tables {
		stmts = append(stmts, fmt.Sprintf("GRANT %s ON %s TO %s@'%%'", privileges, t, quoteSQL(user)))
	}
	return m.Exec(stmts...)
}

// quietLogger drops go-sql-driver's messages about broken connections.
type quietLogger struct{}

func (quietLogger) Print(...any) {}

// quoteSQL quotes s as an SQL string literal.
func quoteSQL(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// SQLAlchemyURL returns the nova.conf [database] connection for user on
// database over TCP, the password percent-encoded:
// mysql+pymysql://user:pass@127.0.0.1:port/database?charset=utf8.
func (m *MariaDB) SQLAlchemyURL(user, password, database string) string {
	return fmt.Sprintf("mysql+pymysql://%s:%s@127.0.0.1:%d/%s?charset=utf8",
		percentEncode(user), percentEncode(password), m.Port, database)
}

// percentEncode encodes every byte but RFC 3986's unreserved ones, which
// SQLAlchemy's unquote reads back exactly (url.QueryEscape's "+" for a
// space it would not).
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Connections returns how many client connections user has open now (the
// server's process list).
func (m *MariaDB) Connections(user string) (int, error) {
	var n int
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", user).Scan(&n)
	return n, err
}

// logTail returns the end of the server's error log.
func (m *MariaDB) logTail() string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, "error.log"))
	o, _ := os.ReadFile(filepath.Join(m.Dir, "output.log"))
	b = append(b, o...)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return "\n" + string(b)
}
