package testutil

import "testing"

// RedisFailover is a Redis topology in which the master serving a key can
// be killed and its replica takes over: a SentinelSet, or a RedisCluster
// from StartClusterWithReplicas. Failover tests written against it run
// the same steps on either.
type RedisFailover interface {
	// Source is the TokenRedis source naming the topology.
	Source() string
	// Put writes key on the master serving it and waits until that
	// master's replica has it.
	Put(t testing.TB, key, value string)
	// KillMaster kills the master serving key (SIGKILL) and returns it.
	KillMaster(t testing.TB, key string) *Redis
	// Del deletes key on the master serving it, after a failover the
	// promoted replica (waiting for the promotion where the topology
	// reports it).
	Del(t testing.TB, key string)
	// State is a diagnostic dump of how the topology sees itself (for a
	// failing test's log).
	State(t testing.TB) string
}

var (
	_ RedisFailover = (*SentinelSet)(nil)
	_ RedisFailover = (*RedisCluster)(nil)
)

// serving returns the set's master: Master until it was killed, then
// Replica once the Sentinels have promoted it (up to 30 s).
func (s *SentinelSet) serving(t testing.TB) *Redis {
	t.Helper()
	if s.Master.cmd.ProcessState == nil {
		return s.Master
	}
	s.WaitPromoted(t)
	return s.Replica
}

// Put writes key on the set's master and waits until the replica has it.
func (s *SentinelSet) Put(t testing.TB, key, value string) {
	t.Helper()
	s.serving(t).Do(t, "SET", key, value)
	s.WaitReplicated(t, key)
}

// KillMaster kills the set's first master (which serves every key); it
// fails the test when that master was killed already.
func (s *SentinelSet) KillMaster(t testing.TB, _ string) *Redis {
	t.Helper()
	if s.Master.cmd.ProcessState != nil {
		t.Fatal("the Sentinel set's master was killed already")
	}
	s.Master.Kill()
	return s.Master
}

// Del deletes key on the set's master; after KillMaster it first waits
// until the replica is promoted.
func (s *SentinelSet) Del(t testing.TB, key string) {
	t.Helper()
	s.serving(t).Do(t, "DEL", key)
}

// State is the first Sentinel's INFO sentinel.
func (s *SentinelSet) State(t testing.TB) string {
	t.Helper()
	return s.Sentinels[0].Do(t, "INFO", "sentinel")
}

// Put writes key on the master of its slot and waits until that master's
// replica has caught up (StartClusterWithReplicas only: a cluster without
// replicas never catches up).
func (c *RedisCluster) Put(t testing.TB, key, value string) {
	t.Helper()
	c.Set(t, key, value)
	c.WaitReplicated(t, c.Owner(t, key))
}

// KillMaster kills the master of key's slot and returns it.
func (c *RedisCluster) KillMaster(t testing.TB, key string) *Redis {
	t.Helper()
	o := c.Owner(t, key)
	o.Kill()
	return o
}

// Del deletes key on the node that serves its slot.
func (c *RedisCluster) Del(t testing.TB, key string) {
	t.Helper()
	c.Do(t, c.Owner(t, key), "DEL", key)
}

// State is CLUSTER NODES as the first live node sees it.
func (c *RedisCluster) State(t testing.TB) string {
	t.Helper()
	for _, n := range c.Nodes {
		if n.cmd.ProcessState == nil {
			return c.Do(t, n, "CLUSTER", "NODES")
		}
	}
	return "no live node"
}
