package redis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestClusterStore: a Store on a redis-cluster:// source resolves tokens
// whose keys live on every master of a real 3-master cluster (with a
// password and a namespace), through the cache and its Recheck, and reports
// healthy. Then one master is killed mid-run: its tokens fail as errors
// (503), never as unknown, the other tokens resolve or fail but are never
// unknown either, CheckHealth fails, and 300 concurrent lookups leave no
// goroutines behind.
func TestClusterStore(t *testing.T) {
	cl := testutil.StartCluster(t, "cluster-pw")
	src, err := ParseSource(cl.Source() + "/?namespace=app")
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t, src, Options{Timeout: time.Second})
	const n = 30
	owner := map[string]*testutil.Redis{}
	for i := range n {
		tok := fmt.Sprintf("vm%d", i)
		cl.Set(t, "app:"+tok, fmt.Sprintf(`{"host": "10.0.0.%d:5900"}`, i))
		owner[tok] = cl.Owner(t, "app:"+tok)
	}
	masters := map[*testutil.Redis]int{}
	for _, o := range owner {
		masters[o]++
	}
	if len(masters) != 3 {
		t.Fatalf("the %d tokens are on %d masters, want 3", n, len(masters))
	}
	c := &auth.Cache{Store: st}
	resolve := func(r auth.Resolver, tok string) (auth.Target, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return r.Resolve(ctx, tok)
	}
	for i := range n {
		tok := fmt.Sprintf("vm%d", i)
		want := fmt.Sprintf("10.0.0.%d:5900", i)
		if tg, err := resolve(c, tok); err != nil || tg.Address != want {
			t.Fatalf("%s: %v %v, want %s", tok, tg, err, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		tg, err := c.Recheck(ctx, tok)
		cancel()
		if err != nil || tg.Address != want {
			t.Fatalf("Recheck %s: %v %v", tok, tg, err)
		}
	}
	if _, err := resolve(st, "no-such-token"); !errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("unknown token: %v", err)
	}
	cl.Do(t, cl.Nodes[0], "-c", "DEL", "app:vm0")
	if _, err := c.Recheck(context.Background(), "vm0"); !errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("Recheck of a deleted token: %v", err)
	}
	if err := st.CheckHealth(ctxFor(t, 2*time.Second)); err != nil {
		t.Fatalf("CheckHealth of a whole cluster: %v", err)
	}

	dead := owner["vm1"]
	baseline := runtime.NumGoroutine()
	dead.Kill()
	killed := time.Now()
	// For 3 s after the kill (the cluster marks the node failed after its
	// 1 s node timeout, then refuses every key): no lookup says unknown, and
	// the dead master's tokens always fail.
	var failedDead, failedLive, okLive int
	var slowest time.Duration
	for time.Since(killed) < 3*time.Second {
		for i := 1; i < n; i++ {
			tok := fmt.Sprintf("vm%d", i)
			start := time.Now()
			tg, err := resolve(st, tok)
			slowest = max(slowest, time.Since(start))
			switch {
			case errors.Is(err, auth.ErrUnknownToken):
				t.Fatalf("%s reported unknown %v after a master died", tok, time.Since(killed))
			case err != nil && owner[tok] == dead:
				failedDead++
			case err != nil:
				failedLive++
			case owner[tok] == dead:
				t.Fatalf("%s resolved to %v though its master is dead", tok, tg)
			default:
				okLive++
			}
		}
	}
	t.Logf("3 s after the kill: %d lookups on the dead master failed, on live masters %d resolved, %d failed (CLUSTERDOWN); slowest lookup %v",
		failedDead, okLive, failedLive, slowest.Round(time.Millisecond))
	if failedDead == 0 {
		t.Fatal("no lookup of the dead master's tokens was tried")
	}
	if err := st.CheckHealth(ctxFor(t, 2*time.Second)); err == nil {
		t.Fatal("CheckHealth passed with a master dead")
	}

	// 300 lookups at once during the outage, each with a 500 ms deadline:
	// all fail, none unknown, and the goroutines are gone after.
	var wg sync.WaitGroup
	var mu sync.Mutex
	unknown := 0
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if _, err := st.Resolve(ctx, fmt.Sprintf("vm%d", 1+i%(n-1))); errors.Is(err, auth.ErrUnknownToken) {
				mu.Lock()
				unknown++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if unknown > 0 {
		t.Fatalf("%d of 300 lookups said unknown during the outage", unknown)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline+10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 5 s after the lookups ended, %d before the kill", runtime.NumGoroutine(), baseline)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("goroutines: %d before the kill, %d after 300 failed lookups", baseline, runtime.NumGoroutine())
}

// TestClusterFailover: a master of a cluster with replicas is killed mid-run;
// its tokens fail (never unknown) until the cluster promotes its replica,
// then resolve again through the same Store, which follows the new slot
// map, and CheckHealth passes again.
func TestClusterFailover(t *testing.T) {
	cl := testutil.StartClusterWithReplicas(t, "")
	src, err := ParseSource(cl.Source())
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t, src, Options{Timeout: time.Second})
	resolveThroughFailover(t, cl, st, "vm", `{"host": "10.0.0.9:5900"}`, "10.0.0.9:5900", 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := st.CheckHealth(ctxFor(t, 2*time.Second))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CheckHealth after the failover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
