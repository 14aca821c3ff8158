package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestSentinelRelay: a relay on a Redis Sentinel source, its master killed
// mid-run. The live console keeps relaying through the failover (the
// revocation check fails meanwhile and keeps it), new consoles open again
// once the replica is promoted, and deleting the token on the new master
// closes the console with 1008.
func TestSentinelRelay(t *testing.T) {
	need(t, "redis-server")
	set := testutil.StartSentinelSet(t, "consoles")
	console := echoConsole(t)
	second := canary + "-2" // never looked up before the kill: not in the cache
	set.Master.Do(t, "SET", canary, console)
	set.Master.Do(t, "SET", second, console)
	set.WaitReplicated(t, second)
	addr, _, logs := startRelayLogged(t, nil, "--token-plugin", "TokenRedis", "--token-source", set.Source(),
		"--revoke-check", "1", "--connect-timeout", "2s")
	s := openEcho(t, addr)
	s.roundTrip(t, []byte("before"))

	set.Master.Kill()
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
	set.WaitPromoted(t)
	s.roundTrip(t, []byte("after"))
	if strings.Contains(logs.String(), `msg="console token revoked"`) {
		t.Fatal("a console was revoked by the failover")
	}

	set.Replica.Do(t, "DEL", canary) // the replica is the master now
	if code := s.closeCode(15 * time.Second); code != 1008 {
		t.Fatalf("after DEL on the new master: close %d, want 1008", code)
	}
}
