package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// redisServer is a private redis-server on a loopback port, started by the
// test and killed at its end.
type redisServer struct {
	cmd  *exec.Cmd
	port int
}

// startRedis starts Debian's redis-server with no persistence on a free
// loopback port, with extra config lines (e.g. "requirepass x"). It fails
// the test when redis-server is not installed, unless
// VNCRELAY_E2E_OPTIONAL=1.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
			t.Skip("redis-server not installed")
		}
		t.Fatal("redis-server not installed: apt-get install redis-server (or set VNCRELAY_E2E_OPTIONAL=1 to skip)")
	}
	dir := t.TempDir()
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		conf := []string{
			"bind 127.0.0.1", "port " + strconv.Itoa(port), "save \"\"", "appendonly no",
			"dir " + dir, "daemonize no", "loglevel warning", "logfile \"\"",
		}
		conf = append(conf, extra...)
		cmd := exec.Command(bin, "-")
		cmd.Stdin = strings.NewReader(strings.Join(conf, "\n") + "\n")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s := &redisServer{cmd: cmd, port: port}
		if s.waitReady(5 * time.Second) {
			t.Cleanup(s.kill)
			return s
		}
		s.kill() // the port was taken meanwhile: try another
	}
	t.Fatal("redis-server did not start")
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady waits until the server answers (any reply to PING, including
// NOAUTH) or the process exits.
func (s *redisServer) waitReady(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if s.cmd.ProcessState != nil {
			return false
		}
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && line != "" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *redisServer) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// stop and cont freeze and thaw the server: a Redis that accepts
// connections but never answers.
func (s *redisServer) stop(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

func (s *redisServer) cont() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// set writes raw values with a plain RESP connection, independent of the
// client under test.
func (s *redisServer) set(t testing.TB, db int, password string, kv map[string]string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	do := func(args ...string) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "+") && !strings.HasPrefix(line, ":") {
			t.Fatalf("redis %s: %q %v", args[0], line, err)
		}
	}
	if password != "" {
		do("AUTH", password)
	}
	do("SELECT", strconv.Itoa(db))
	for k, v := range kv {
		if v == "" {
			do("DEL", k)
			continue
		}
		do("SET", k, v)
	}
}

// newStore is a Store for src with its client closed at the end of the test.
func newStore(t testing.TB, src Source, opt Options) *Store {
	t.Helper()
	s := New(src, opt)
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// configSet runs CONFIG SET name value, authenticating with password when
// not "".
func (s *redisServer) configSet(t testing.TB, password, name, value string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var b strings.Builder
	args := []string{"CONFIG", "SET", name, value}
	if password != "" {
		b.WriteString(fmt.Sprintf("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password))
	}
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	replies := 1
	if password != "" {
		replies = 2
	}
	for range replies {
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+") {
			t.Fatalf("CONFIG SET %s: %q %v", name, line, err)
		}
	}
}

// getCalls returns how many GET commands the server has run (INFO
// commandstats).
func (s *redisServer) getCalls(t testing.TB) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		t.Fatalf("INFO: %q %v", head, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			v, _ := strconv.Atoi(calls)
			return v
		}
	}
	return 0
}
