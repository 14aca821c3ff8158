package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// testRedisFailoverRelay runs the built relay on r's TokenRedis source
// (TestSentinelRelay, TestRedisClusterRelay) and kills the master serving
// a second token: new consoles for it get 503 (never 403) until the
// replica takes over, then open; a live console keeps relaying through the
// failover (the revocation check fails meanwhile and keeps it) and is not
// revoked; deleting its token on the master that now serves it closes it
// with 1008.
func testRedisFailoverRelay(t *testing.T, r testutil.RedisFailover) {
	t.Helper()
	console := echoConsole(t)
	second := canary + "-2" // never looked up before the kill: not in the cache
	r.Put(t, canary, console)
	r.Put(t, second, console)
	addr, _, logs := startRelayLogged(t, nil, "--token-plugin", "TokenRedis", "--token-source", r.Source(),
		"--revoke-check", "1", "--connect-timeout", "2s")
	s := openEcho(t, addr)
	s.roundTrip(t, []byte("before"))

	r.KillMaster(t, second)
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
			t.Logf("Redis state: %s", r.State(t))
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

	r.Del(t, canary)
	if code := s.closeCode(15 * time.Second); code != 1008 {
		t.Fatalf("after DEL on the master serving the token: close %d, want 1008", code)
	}
}
