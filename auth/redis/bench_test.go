package redis

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// reportLatency runs lookup b.N times and reports the p50 and p99 of one
// lookup, in microseconds.
func reportLatency(b *testing.B, lookup func(i int) error) {
	b.Helper()
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := lookup(i); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
}

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
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		reportLatency(b, func(i int) error {
			_, err := st.Resolve(ctx, fmt.Sprintf("tok-%d", i%1000))
			return err
		})
	})
	b.Run("warm", func(b *testing.B) {
		c := &auth.Cache{Store: st, TTL: time.Hour}
		for i := range 1000 {
			if _, err := c.Resolve(ctx, fmt.Sprintf("tok-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		reportLatency(b, func(i int) error {
			_, err := c.Resolve(ctx, fmt.Sprintf("tok-%d", i%1000))
			return err
		})
	})
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
	b.Run("cold", func(b *testing.B) {
		reportLatency(b, func(i int) error {
			_, err := st.Resolve(ctx, fmt.Sprintf("tok-%d", i%1000))
			return err
		})
	})
	b.Run("warm", func(b *testing.B) {
		c := &auth.Cache{Store: st, TTL: time.Hour}
		for i := range 1000 {
			if _, err := c.Resolve(ctx, fmt.Sprintf("tok-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		reportLatency(b, func(i int) error {
			_, err := c.Resolve(ctx, fmt.Sprintf("tok-%d", i%1000))
			return err
		})
	})
}
