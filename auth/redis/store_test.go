package redis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

// canaryToken must never appear in an error message.
const canaryToken = "canary-7f3c0a1e9b"

func TestStoreLookups(t *testing.T) {
	srv := startRedis(t)
	srv.set(t, 0, "", map[string]string{
		"vm-json":     `{"host": "10.0.0.1:5901"}`,
		"vm-plain":    "10.0.0.2:5902\n",
		"vm-unix":     "unix_socket:/run/vm3.sock",
		canaryToken:   "not a target",
		"vm-badport":  `{"host": "10.0.0.4:99999"}`,
		"ns:vm-json":  `{"host": "10.9.9.9:5900"}`,
		"vm-with:col": "10.0.0.5:5905",
	})
	st := newStore(t, Source{Host: "127.0.0.1", Port: srv.port}, Options{})
	tests := []struct{ name, token, want string }{
		{"JSON value", "vm-json", "10.0.0.1:5901"},
		{"plain value", "vm-plain", "10.0.0.2:5902"},
		{"unix socket", "vm-unix", "unix:/run/vm3.sock"},
		{"token with a colon", "vm-with:col", "10.0.0.5:5905"},
		{"missing", "vm-none", "unknown"},
		{"empty token", "", "unknown"},
		{"bad value", canaryToken, "error"},
		{"bad port", "vm-badport", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Resolve(ctxFor(t, 5*time.Second), tt.token)
			wantResolved(t, got, err, tt.want)
			if tt.want == "error" && (strings.Contains(err.Error(), canaryToken) || strings.Contains(err.Error(), "not a target")) {
				t.Fatal("error message holds the token or the value")
			}
		})
	}
}

// wantResolved checks a lookup's result against a table's want:
// "unknown" (auth.ErrUnknownToken), "error" (a store error, not unknown),
// else the target's String.
func wantResolved(t *testing.T, got auth.Target, err error, want string) {
	t.Helper()
	switch want {
	case "unknown":
		if !errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("got %v, %v; want unknown", got, err)
		}
	case "error":
		if err == nil || errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("got %v, %v; want a store error", got, err)
		}
	default:
		if err != nil || got.String() != want {
			t.Fatalf("got %v, %v; want %s", got, err, want)
		}
	}
}

func TestStoreSourceFields(t *testing.T) {
	srv := startRedis(t, "requirepass s3cret:pw")
	srv.set(t, 3, "s3cret:pw", map[string]string{"app:ns:vm": "10.0.0.7:5907", "vm": "10.0.0.8:5908"})
	ctx := ctxFor(t, 10*time.Second)
	for _, tt := range []struct{ name, source, token, want string }{
		{"db, password and quoted namespace", fmt.Sprintf(`127.0.0.1:%d:3:"s3cret:pw":"app:ns"`, srv.port), "vm", "10.0.0.7:5907"},
		{"no namespace", fmt.Sprintf(`127.0.0.1:%d:3:"s3cret:pw"`, srv.port), "vm", "10.0.0.8:5908"},
		{"other db", fmt.Sprintf(`127.0.0.1:%d:4:"s3cret:pw"`, srv.port), "vm", "unknown"},
		{"wrong password", fmt.Sprintf(`127.0.0.1:%d:3:nope`, srv.port), "vm", "error"},
		{"no password", fmt.Sprintf(`127.0.0.1:%d:3`, srv.port), "vm", "error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := ParseSource(tt.source)
			if err != nil {
				t.Fatal(err)
			}
			st := newStore(t, src, Options{})
			got, err := st.Resolve(ctx, tt.token)
			wantResolved(t, got, err, tt.want)
			if tt.want == "error" && st.Ping(ctx) == nil {
				t.Fatal("Ping passed with a wrong password")
			}
		})
	}
}

// TestStoreOutage: Redis killed, and Redis frozen (accepting, never
// answering), give store errors (503) within the caller's deadline; a
// thousand lookups pending on a frozen Redis leave no goroutines behind.
func TestStoreOutage(t *testing.T) {
	srv := startRedis(t)
	srv.set(t, 0, "", map[string]string{"vm": "10.0.0.1:5901"})
	st := newStore(t, Source{Host: "127.0.0.1", Port: srv.port}, Options{PoolSize: 8})
	if _, err := st.Resolve(ctxFor(t, 5*time.Second), "vm"); err != nil {
		t.Fatal(err)
	}
	const deadline = 300 * time.Millisecond
	lookup := func(c *auth.Cache, token string) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		_, err := c.Resolve(ctx, token)
		return time.Since(start), err
	}
	cache := &auth.Cache{Store: st, TTL: -1, NegativeTTL: -1}

	srv.stop(t)
	base := runtime.NumGoroutine()
	const pending = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures, unknown int
	var slowest time.Duration
	peak := 0
	for i := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := lookup(cache, fmt.Sprintf("tok-%d", i))
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, took)
			if err == nil {
				return
			}
			failures++
			if errors.Is(err, auth.ErrUnknownToken) {
				unknown++
			}
		}()
	}
	for i := 0; i < 20; i++ { // sample while the lookups wait
		peak = max(peak, runtime.NumGoroutine())
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if failures != pending || unknown != 0 {
		t.Fatalf("frozen Redis: %d of %d lookups failed, %d as unknown; want all as store errors", failures, pending, unknown)
	}
	t.Logf("frozen Redis, %d pending lookups: peak %d goroutines over a base of %d, slowest answer %v (deadline %v)",
		pending, peak, base, slowest, deadline)
	settled := false
	for i := 0; i < 100 && !settled; i++ {
		settled = runtime.NumGoroutine() <= base+10
		time.Sleep(20 * time.Millisecond)
	}
	if !settled {
		t.Fatalf("%d goroutines after the lookups ended, base %d", runtime.NumGoroutine(), base)
	}
	srv.cont()
	var err error
	for i := 0; i < 50; i++ { // the pool's dead connections are replaced
		if _, err = lookup(cache, "vm"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after thaw: %v", err)
	}

	srv.kill()
	if _, err := lookup(cache, "vm"); err == nil || errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("Redis gone: %v, want a store error", err)
	}
}
