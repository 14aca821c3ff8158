package e2e

import (
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestRedisClusterRelay: the built relay on a redis-cluster:// source (three
// masters, one replica each). The master of a token's slot is killed: new
// consoles for that token get 503 (never 403) until the replica takes
// over, then open; a live console keeps relaying and is not revoked; a DEL
// in the cluster closes it with 1008 (testRedisFailoverRelay).
func TestRedisClusterRelay(t *testing.T) {
	need(t, "redis-server")
	need(t, "redis-cli")
	testRedisFailoverRelay(t, testutil.StartClusterWithReplicas(t, ""))
}
