package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestRedisClusterRelay: the built relay on a redis-cluster:// source (three
// masters, one replica each). The master of a token's slot is killed: new
// consoles for that token get 503 (never 403) until the replica takes
// over, then open; a live console keeps relaying and is not revoked; a DEL
// in the cluster closes it with 1008.
func TestRedisClusterRelay(t *testing.T) {
	need(t, "redis-server")
	need(t, "redis-cli")
	cl := testutil.StartClusterWithReplicas(t, "")
	console := echoConsole(t)
	second := canary + "-2" // never looked up before the kill: not in the cache
	cl.Set(t, canary, console)
	cl.Set(t, second, console)
	dead := cl.Owner(t, second)
	cl.WaitReplicated(t, dead)
	if o := cl.Owner(t, canary); o != dead {
		cl.WaitReplicated(t, o)
	}
	addr, _, logs := startRelayLogged(t, nil, "--token-plugin", "TokenRedis", "--token-source", cl.Source(),
		"--revoke-check", "1", "--connect-timeout", "2s")
	s := openEcho(t, addr)
	s.roundTrip(t, []byte("before"))

	dead.Kill()
	killed := time.Now()
	statuses := map[int]int{}
	for {
		st, _, _ := upgradeMaybe(addr, second)
		statuses[st]++
		if st == 101 {
			break
		}
		if st != 503 {
			t.Fatalf("a new console during the failover: %d, want 503 until it is over", st)
		}
		if time.Since(killed) > 40*time.Second {
			t.Fatal("no new console 40 s after the master died")
		}
		s.roundTrip(t, []byte("during")) // the live console needs no store
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new consoles open again %v after the master was killed (answers meanwhile: %v)",
		time.Since(killed).Round(time.Millisecond), statuses)
	s.roundTrip(t, []byte("after"))
	if strings.Contains(logs.String(), `msg="console token revoked"`) {
		t.Fatal("a console was revoked by the failover")
	}

	cl.Do(t, cl.Owner(t, canary), "DEL", canary)
	if code := s.closeCode(15 * time.Second); code != 1008 {
		t.Fatalf("after DEL in the cluster: close %d, want 1008", code)
	}
}
