package engine

import (
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/auth/redis"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// TestRevokeCheckRedis: against a real redis-server behind a Cache whose
// TTL is far longer than the test, a DEL closes the console at the next
// round (the check goes past the cache), and a Redis that stops answering
// keeps it.
func TestRevokeCheckRedis(t *testing.T) {
	rs := testutil.StartRedis(t)
	src, err := redis.ParseSource(rs.Addr())
	if err != nil {
		t.Fatal(err)
	}
	store := redis.New(src, redis.Options{Timeout: time.Second})
	t.Cleanup(func() { _ = store.Close() })
	cache := &auth.Cache{Store: store, TTL: time.Hour}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.RevokeCheck = revokeEvery
		c.Resolver = cache
		c.ConnectTimeout = time.Second
	})
	rs.Do(t, "SET", canary, e.console.Addr())
	w := e.dial()
	w.rfbHandshake()

	rs.Freeze(t)
	errs := e.srv.Stats().RevokeErrors
	waitFor(t, "failed lookups while Redis is frozen", func() bool { return e.srv.Stats().RevokeErrors >= errs+2 })
	rs.Thaw()
	w.send([]byte("kept"))
	if got := string(w.readData(4)); got != "kept" {
		t.Fatalf("echo %q", got)
	}

	rs.Do(t, "DEL", canary)
	if got := w.expectClose(wsframe.ClosePolicyViolation); got != closeRevoked {
		t.Fatalf("close reason %q", got)
	}
	w.expectEOF()
	// The cache learnt the revocation: a new console is refused at once,
	// although the found answer would have been kept an hour.
	if r := e.dialRaw(upgradeRequest("/websockify?token=" + canary)); r.status != 403 {
		t.Fatalf("after DEL: %d", r.status)
	}
}
