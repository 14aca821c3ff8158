package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// BenchmarkRedisLookup: "cold" is every lookup a GET (a token the cache has
// not seen), "warm" a cache hit in front of the same Store.
func BenchmarkRedisLookup(b *testing.B) {
	srv := startRedis(b)
	kv := map[string]string{}
	for i := range 1000 {
		kv[fmt.Sprintf("tok-%d", i)] = fmt.Sprintf(`{"host": "10.0.%d.%d:5900"}`, i/256, i%256)
	}
	srv.set(b, 0, "", kv)
	st := New(Source{Host: "127.0.0.1", Port: srv.port}, Options{})
	defer st.Close()
	testutil.ReportColdWarm(b, 1000, st.Resolve, (&auth.Cache{Store: st, TTL: time.Hour}).Resolve)
}

// BenchmarkRedisClusterLookup is BenchmarkRedisLookup on a 3-master Redis
// Cluster (redis-cluster:// source): a cold lookup is a GET sent to the
// master of the key's slot.
func BenchmarkRedisClusterLookup(b *testing.B) {
	cl := testutil.StartCluster(b, "")
	src, err := ParseSource(cl.Source())
	if err != nil {
		b.Fatal(err)
	}
	st := New(src, Options{})
	defer st.Close()
	ctx := context.Background()
	for i := range 1000 {
		// The keys are written through the client under test: 1,000 redis-cli
		// starts would take longer than the benchmark.
		if err := st.client.Set(ctx, fmt.Sprintf("tok-%d", i), fmt.Sprintf(`{"host": "10.0.%d.%d:5900"}`, i/256, i%256), 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
	testutil.ReportColdWarm(b, 1000, st.Resolve, (&auth.Cache{Store: st, TTL: time.Hour}).Resolve)
}
