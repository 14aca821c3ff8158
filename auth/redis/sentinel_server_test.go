package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

const sentinelMaster = "consoles"

// TestSentinelFailover: a Store on a Sentinel source resolves through the
// master; when the master dies mid-run, lookups fail (never "unknown")
// until the Sentinels promote the replica, then resolve again, and tokens
// written to the new master are found.
func TestSentinelFailover(t *testing.T) {
	set := testutil.StartSentinelSet(t, sentinelMaster)
	src, err := ParseSource(set.Source())
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t, src, Options{Timeout: time.Second})
	resolveThroughFailover(t, set, st, "vm1", "10.0.0.1:5901", "10.0.0.1:5901", 40*time.Second)
	set.Replica.Do(t, "SET", "vm2", "10.0.0.2:5902") // the replica is the master now
	if tg, err := st.Resolve(context.Background(), "vm2"); err != nil || tg.Address != "10.0.0.2:5902" {
		t.Fatalf("a token written to the new master: %v %v", tg, err)
	}
	if _, err := st.Resolve(context.Background(), "nope"); !errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("unknown token after the failover: %v", err)
	}
	if err := st.Ping(context.Background()); err != nil || !strings.Contains(fmt.Sprint(src), "redis-sentinel://") {
		t.Fatalf("ping after failover: %v", err)
	}
}
