package redis

import (
	"context"
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

// set writes raw values (DEL where a value is "") in db with a plain RESP
// connection, independent of the client under test.
func (s *redisServer) set(t testing.TB, db int, password string, kv map[string]string) {
	t.Helper()
	cmds := withAuth(password, []string{"SELECT", strconv.Itoa(db)})
	for k, v := range kv {
		if v == "" {
			cmds = append(cmds, []string{"DEL", k})
			continue
		}
		cmds = append(cmds, []string{"SET", k, v})
	}
	s.DoAll(t, cmds...)
}

// withAuth is cmds after an AUTH with password, when not "".
func withAuth(password string, cmds ...[]string) [][]string {
	if password == "" {
		return cmds
	}
	return append([][]string{{"AUTH", password}}, cmds...)
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
	s.DoAll(t, withAuth(password, []string{"CONFIG", "SET", name, value})...)
}

// getCalls returns how many GET commands the server has run (INFO
// commandstats).
func (s *redisServer) getCalls(t testing.TB) int {
	t.Helper()
	for _, line := range strings.Split(s.Do(t, "INFO", "commandstats"), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			v, _ := strconv.Atoi(calls)
			return v
		}
	}
	return 0
}
