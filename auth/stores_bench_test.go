package auth

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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

// BenchmarkDirStoreLookup: one lookup in a directory of 100 sockets
// (UnixDomainSocketDirectory: an lstat) and of 100 files (TokenFileName: an
// lstat, an open, a read). Neither has a cache.
func BenchmarkDirStoreLookup(b *testing.B) {
	base, err := os.MkdirTemp("", "vrb")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(base)
	socks, files := filepath.Join(base, "s"), filepath.Join(base, "f")
	for _, d := range []string{socks, files} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		l, err := net.Listen("unix", filepath.Join(socks, fmt.Sprintf("t%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		if err := os.WriteFile(filepath.Join(files, fmt.Sprintf("t%d", i)), []byte("10.0.0.1:5901\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	sd, err := NewSocketDir(socks)
	if err != nil {
		b.Fatal(err)
	}
	fn, err := NewTokenFileName(files)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []struct {
		name string
		res  Resolver
	}{{"UnixDomainSocketDirectory", sd}, {"TokenFileName", fn}} {
		b.Run(r.name, func(b *testing.B) {
			reportLatency(b, func(i int) error {
				_, err := r.res.Resolve(ctx, fmt.Sprintf("t%d", i%100))
				return err
			})
		})
	}
}
