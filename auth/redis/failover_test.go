package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// resolveThroughFailover is the failover half of TestSentinelFailover and
// TestClusterFailover: it puts key (stored as value) in r, checks that st
// resolves it to address, kills the master serving it, and waits up to
// limit until st resolves it again after at least one failed lookup. No
// lookup may say the token is unknown meanwhile.
func resolveThroughFailover(t *testing.T, r testutil.RedisFailover, st *Store, key, value, address string, limit time.Duration) {
	t.Helper()
	r.Put(t, key, value)
	resolve := func() (auth.Target, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return st.Resolve(ctx, key)
	}
	if tg, err := resolve(); err != nil || tg.Address != address {
		t.Fatalf("before the failover: %v %v", tg, err)
	}

	r.KillMaster(t, key)
	killed := time.Now()
	failures := 0
	for {
		tg, err := resolve()
		if errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("the token reported unknown %v after its master died", time.Since(killed))
		}
		if err == nil && tg.Address == address && failures > 0 {
			break
		}
		if err != nil {
			failures++
		}
		if time.Since(killed) > limit {
			t.Logf("Redis state: %s", r.State(t))
			t.Fatalf("no answer %v after the master died: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the token resolved again %v after its master was killed (%d lookups failed meanwhile)",
		time.Since(killed).Round(time.Millisecond), failures)
}
