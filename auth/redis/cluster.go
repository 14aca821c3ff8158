package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ClusterScheme starts a Redis Cluster source (see ParseSource).
// websockify has no Cluster support; the syntax is vncrelay's.
const ClusterScheme = "redis-cluster://"

// maxClusterSeeds bounds the seed node addresses of a Cluster source.
const maxClusterSeeds = 16

// parseCluster reads
//
//	redis-cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...][/][?namespace=NS]
//
// Every HOST:PORT is a seed node (IPv6 hosts in brackets, the port
// required): the client asks any of them for the cluster's slot map and
// then talks to every master it names. PASSWORD (the nodes' requirepass)
// and NS are percent-decoded. A Cluster has only db 0: there is no DB
// field. Errors quote nothing.
func parseCluster(s string) (Source, error) {
	fail := func(what string) (Source, error) { return Source{}, errors.New("TokenRedis Cluster source: " + what) }
	rest := strings.TrimPrefix(s, ClusterScheme)
	rest, query, _ := strings.Cut(rest, "?")
	hosts, path, _ := strings.Cut(rest, "/")
	if path != "" {
		return fail("nothing may follow the nodes but /?namespace=NS (a Cluster has only db 0)")
	}
	var src Source
	var msg string
	if src.Password, src.Cluster, msg = parseNodes(hosts, "a node", ""); msg != "" {
		return fail(msg)
	}
	if len(src.Cluster) > maxClusterSeeds {
		return fail("more than 16 nodes")
	}
	q, msg := parseParams(query, "namespace")
	if msg != "" {
		return fail(msg)
	}
	src.Namespace = q["namespace"]
	return src, nil
}

// clusterString describes a Cluster source for logs, the password left out.
func (s Source) clusterString() string {
	out := ClusterScheme + strings.Join(s.Cluster, ",")
	if s.Password != "" {
		out += " (password set)"
	}
	if s.Namespace != "" {
		out += " namespace " + strconv.Quote(s.Namespace)
	}
	return out
}

// checkCluster is CheckHealth for a Cluster source: every master of the
// slot map answers PING within ctx's deadline (a master that does not
// leaves its slots' tokens unresolvable), and the node asked first reports
// cluster_state:ok (with the default cluster-require-full-coverage, a
// cluster missing a slot refuses every key).
func checkCluster(ctx context.Context, c *goredis.ClusterClient) error {
	if err := c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		return n.Ping(ctx).Err()
	}); err != nil {
		return err
	}
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	return nil
}

// reloadSlots asks a Cluster client to read the slot map again, after a
// command failed: go-redis reloads it by itself only on MOVED, ASK and
// READONLY replies and once a minute, so without this a master that died
// and was replaced by its replica stays in the map, and its tokens fail,
// for up to a minute. The reload runs in the background, one at a time,
// at most one per 200 ms (go-redis's LazyReload); other sources do nothing.
func (s *Store) reloadSlots() {
	if c, ok := s.client.(*goredis.ClusterClient); ok {
		c.ReloadState(context.Background())
	}
}
