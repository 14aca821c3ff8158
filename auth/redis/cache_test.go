package redis

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

// TestCacheOverRedis holds the cache's promises on a real Redis: a token
// deleted from Redis stops resolving within 5 s, and a burst of lookups of
// one unknown token costs Redis one GET.
func TestCacheOverRedis(t *testing.T) {
	srv := startRedis(t)
	srv.set(t, 0, "", map[string]string{"vm": `{"host": "10.0.0.1:5901"}`})
	c := &auth.Cache{Store: newStore(t, Source{Host: "127.0.0.1", Port: srv.port}, Options{})}
	ctx := ctxFor(t, 30*time.Second)
	if _, err := c.Resolve(ctx, "vm"); err != nil {
		t.Fatal(err)
	}

	t.Run("deleted token stops within 5 s", func(t *testing.T) {
		srv.set(t, 0, "", map[string]string{"vm": ""})
		deleted := time.Now()
		for {
			_, err := c.Resolve(ctx, "vm")
			if errors.Is(err, auth.ErrUnknownToken) {
				t.Logf("unknown %v after the DEL", time.Since(deleted).Round(time.Millisecond))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(deleted) > 5*time.Second {
				t.Fatal("a deleted token still resolved 5 s later")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("burst of one unknown token", func(t *testing.T) {
		before := srv.getCalls(t)
		var wg sync.WaitGroup
		for range 500 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Resolve(ctx, "no-such-token"); !errors.Is(err, auth.ErrUnknownToken) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		// 500 lookups end well inside the 1 s negative lifetime on any machine
		// this runs on; allow one more GET should they straddle its end.
		if got := srv.getCalls(t) - before; got < 1 || got > 2 {
			t.Fatalf("%d GETs for 500 lookups of one unknown token, want 1 (2 at most)", got)
		}
	})
}
