package tokenapi

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

// reportLatency runs lookup b.N times and reports the p50 and p99 of one
// lookup, in microseconds.
func reportLatency(b *testing.B, lookup func(i int) error) {
	b.Helper()
	took := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := lookup(i); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkAPILookup: "cold" is every lookup a GET to a loopback token API
// (keep-alive connections), "warm" a cache hit in front of the same API.
func BenchmarkAPILookup(b *testing.B) {
	srv := newTokenServer(b)
	for i := range 1000 {
		srv.json[fmt.Sprintf("tok-%d", i)] = apiAnswer{200, fmt.Sprintf(`{"host": "10.0.%d.%d", "port": 5900}`, i/256, i%256), 0}
	}
	a := newAPI(b, srv.URL+"/json/%s", JSON, Options{})
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		reportLatency(b, func(i int) error {
			_, err := a.Resolve(ctx, fmt.Sprintf("tok-%d", i%1000))
			return err
		})
	})
	b.Run("warm", func(b *testing.B) {
		c := &auth.Cache{Store: a, TTL: time.Hour}
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
