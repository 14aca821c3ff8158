package e2e

import (
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestSentinelRelay: a relay on a Redis Sentinel source, its master killed
// mid-run. The live console keeps relaying through the failover (the
// revocation check fails meanwhile and keeps it), new consoles open again
// once the replica is promoted, and deleting the token on the new master
// closes the console with 1008 (testRedisFailoverRelay).
func TestSentinelRelay(t *testing.T) {
	need(t, "redis-server")
	testRedisFailoverRelay(t, testutil.StartSentinelSet(t, "consoles"))
}
