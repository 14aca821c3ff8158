package testutil

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// ReportLatency runs lookup for each iteration of b's loop and reports the
// p50 and p99 of one call, in microseconds ("p50-µs", "p99-µs"). An error
// from lookup fails the benchmark.
func ReportLatency(b *testing.B, lookup func(i int) error) {
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

// ReportColdWarm runs two sub-benchmarks of lookups of n tokens ("tok-0"
// to "tok-<n-1>", in turn), each reported as ReportLatency does: "cold"
// through store, "warm" through cache (an auth.Cache in front of the same
// store), after one lookup of every token has filled it.
func ReportColdWarm[T any](b *testing.B, n int, store, cache func(ctx context.Context, token string) (T, error)) {
	b.Helper()
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		ReportLatency(b, func(i int) error {
			_, err := store(ctx, fmt.Sprintf("tok-%d", i%n))
			return err
		})
	})
	b.Run("warm", func(b *testing.B) {
		for i := range n {
			if _, err := cache(ctx, fmt.Sprintf("tok-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		ReportLatency(b, func(i int) error {
			_, err := cache(ctx, fmt.Sprintf("tok-%d", i%n))
			return err
		})
	})
}
