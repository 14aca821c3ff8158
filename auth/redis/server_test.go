package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// redisServer is a private redis-server on a loopback port, started by the
// test and killed at its end (testutil.Redis), with the raw RESP helpers
// these tests use beside the client under test.
type redisServer struct {
	*testutil.Redis
	port int
}

// startRedis starts Debian's redis-server with no persistence on a free
// loopback port, with extra config lines (e.g. "requirepass x"); see
// testutil.StartRedis.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	r := testutil.StartRedis(t, extra...)
	return &redisServer{Redis: r, port: r.Port}
}

func (s *redisServer) addr() string { return s.Addr() }

func (s *redisServer) kill() { s.Kill() }

// stop and cont freeze and thaw the server: a Redis that accepts
// connections but never answers.
func (s *redisServer) stop(t testing.TB) { s.Freeze(t) }

func (s *redisServer) cont() { s.Thaw() }

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
