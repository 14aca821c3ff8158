package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// sentinelSet is a master, a replica and three Sentinels (quorum 2), all
// private redis-server processes on loopback.
type sentinelSet struct {
	master, replica *testutil.Redis
	sentinels       []*testutil.Redis
}

const sentinelMaster = "consoles"

func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	s := &sentinelSet{master: testutil.StartRedis(t)}
	s.replica = testutil.StartRedis(t, "replicaof 127.0.0.1 "+strconv.Itoa(s.master.Port))
	for range 3 {
		s.sentinels = append(s.sentinels, testutil.StartSentinel(t,
			"sentinel monitor "+sentinelMaster+" 127.0.0.1 "+strconv.Itoa(s.master.Port)+" 2",
			"sentinel down-after-milliseconds "+sentinelMaster+" 1000",
			"sentinel failover-timeout "+sentinelMaster+" 10000",
			"sentinel parallel-syncs "+sentinelMaster+" 1"))
	}
	// Every Sentinel knows the replica and the other Sentinels before a test
	// relies on a failover.
	deadline := time.Now().Add(20 * time.Second)
	for _, sn := range s.sentinels {
		for !strings.Contains(sentinelInfo(t, sn), "slaves=1,sentinels=3") {
			if time.Now().After(deadline) {
				t.Fatalf("Sentinel set not formed: %s", sentinelInfo(t, sn))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return s
}

// sentinelInfo returns the master line of a Sentinel's INFO sentinel.
func sentinelInfo(t *testing.T, sn *testutil.Redis) string {
	return sn.Do(t, "INFO", "sentinel")
}

func (s *sentinelSet) source() string {
	var addrs []string
	for _, sn := range s.sentinels {
		addrs = append(addrs, sn.Addr())
	}
	return SentinelScheme + strings.Join(addrs, ",") + "/" + sentinelMaster
}

// TestSentinelFailover: a Store on a Sentinel source resolves through the
// master; when the master dies mid-run, lookups fail (never "unknown")
// until the Sentinels promote the replica, then resolve again, and tokens
// written to the new master are found.
func TestSentinelFailover(t *testing.T) {
	set := startSentinelSet(t)
	src, err := ParseSource(set.source())
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t, src, Options{Timeout: time.Second})
	set.master.Do(t, "SET", "vm1", "10.0.0.1:5901")
	deadline := time.Now().Add(10 * time.Second)
	for set.replica.Do(t, "EXISTS", "vm1") != ":1" {
		if time.Now().After(deadline) {
			t.Fatal("the replica never got the key")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resolve := func() (auth.Target, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return st.Resolve(ctx, "vm1")
	}
	if tg, err := resolve(); err != nil || tg.Address != "10.0.0.1:5901" {
		t.Fatalf("before the failover: %v %v", tg, err)
	}

	set.master.Kill()
	killed := time.Now()
	failures := 0
	for {
		tg, err := resolve()
		if err == nil && tg.Address == "10.0.0.1:5901" && failures > 0 {
			break
		}
		if errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("a token reported unknown during the failover (%v after the kill)", time.Since(killed))
		}
		if err != nil {
			failures++
		}
		if time.Since(killed) > 40*time.Second {
			t.Fatalf("no answer 40 s after the master died: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("lookups answered again %v after the master was killed (%d failed meanwhile)",
		time.Since(killed).Round(time.Millisecond), failures)
	set.replica.Do(t, "SET", "vm2", "10.0.0.2:5902") // the replica is the master now
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
