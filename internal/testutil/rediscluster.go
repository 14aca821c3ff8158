package testutil

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a Redis Cluster of three masters (and, from
// StartClusterWithReplicas, one replica each) on loopback, started by a
// test: each node a private redis-server with
// cluster-enabled, its nodes file in the node's temporary directory, its
// cluster bus on a port of its own, slots assigned by redis-cli --cluster
// create.
type RedisCluster struct {
	Nodes    []*Redis
	password string
}

// StartCluster starts a 3-master RedisCluster (cluster-node-timeout 1 s)
// and waits until every node reports cluster_state:ok. With a non-empty
// password every node has requirepass and masterauth set to it. It skips
// or fails as StartRedis does when redis-server is missing, and fails when
// redis-cli is.
func StartCluster(t testing.TB, password string) *RedisCluster {
	t.Helper()
	return startCluster(t, password, 0)
}

// StartClusterWithReplicas is StartCluster with one replica per master (six
// nodes; redis-cli picks which are replicas): a master killed is replaced
// by its replica about 1-2 s later.
func StartClusterWithReplicas(t testing.TB, password string) *RedisCluster {
	t.Helper()
	return startCluster(t, password, 1)
}

func startCluster(t testing.TB, password string, replicas int) *RedisCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not installed: apt-get install redis-tools")
	}
	c := &RedisCluster{password: password}
	for range 3 * (1 + replicas) {
		conf := []string{
			"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 1000",
			"cluster-port " + strconv.Itoa(FreePort(t)),
		}
		if password != "" {
			conf = append(conf, "requirepass "+password, "masterauth "+password)
		}
		c.Nodes = append(c.Nodes, StartRedis(t, conf...))
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if password != "" {
		args = append(args, "-a", password, "--no-auth-warning")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitEach(t, c.Nodes, 20*time.Second, 50*time.Millisecond, "cluster not formed",
		func(n *Redis) (string, bool) {
			info := c.Do(t, n, "CLUSTER", "INFO")
			return info, strings.Contains(info, "cluster_state:ok")
		})
	return c
}

// Source is the TokenRedis source naming the cluster (auth/redis's
// redis-cluster:// form), every node a seed.
func (c *RedisCluster) Source() string {
	s := "redis-cluster://"
	if c.password != "" {
		s += ":" + c.password + "@"
	}
	return s + addrs(c.Nodes)
}

// Do runs one command on node n with redis-cli (authenticated when the
// cluster has a password), independent of any client under test, and
// returns its raw output, trimmed. An error fails the test.
func (c *RedisCluster) Do(t testing.TB, n *Redis, args ...string) string {
	t.Helper()
	out, err := c.try(n, args...)
	if err != nil {
		t.Fatalf("redis-cli %s: %v: %s", args[0], err, out)
	}
	return out
}

func (c *RedisCluster) try(n *Redis, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.Port)}
	if c.password != "" {
		base = append(base, "-a", c.password, "--no-auth-warning")
	}
	out, err := exec.CommandContext(ctx, "redis-cli", append(base, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// Set writes key on the master of its slot (redis-cli -c follows MOVED).
func (c *RedisCluster) Set(t testing.TB, key, value string) {
	t.Helper()
	if out := c.Do(t, c.Nodes[0], "-c", "SET", key, value); out != "OK" {
		t.Fatalf("SET in the cluster: %s", out)
	}
}

// Owner returns the node that serves key's slot: the one that answers
// EXISTS itself rather than with MOVED.
func (c *RedisCluster) Owner(t testing.TB, key string) *Redis {
	t.Helper()
	for _, n := range c.Nodes {
		if out, err := c.try(n, "EXISTS", key); err == nil && !strings.Contains(out, "MOVED") {
			return n
		}
	}
	t.Fatalf("no node serves the key's slot")
	return nil
}

// WaitReplicated waits up to 10 s until master's replica has every write
// master has acknowledged (its replication offsets agree).
func (c *RedisCluster) WaitReplicated(t testing.TB, master *Redis) {
	t.Helper()
	waitEach(t, []*Redis{master}, 10*time.Second, 50*time.Millisecond, "the replica did not catch up",
		func(n *Redis) (string, bool) {
			info := c.Do(t, n, "INFO", "replication")
			own, replica := replicationOffsets(info)
			return info, own != "" && own == replica
		})
}

// replicationOffsets returns a master's master_repl_offset and its first
// replica's offset from the master's INFO replication ("" where absent).
func replicationOffsets(info string) (own, replica string) {
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
			own = v
		}
		if strings.HasPrefix(line, "slave0:") {
			for _, f := range strings.Split(line, ",") {
				if v, ok := strings.CutPrefix(f, "offset="); ok {
					replica = v
				}
			}
		}
	}
	return own, replica
}
