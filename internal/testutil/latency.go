package testutil

import (
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
