package auth

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkTokenFileResolve measures one lookup in a source that does not
// change: a file of 10,000 tokens and a directory of 1,000 files of 10 tokens
// each, for a known token (hit) and an unknown one (miss), from one goroutine
// and from many at once (parallel: concurrent lookups share checks). Every
// lookup includes a check of the source (stat of the file; of the directory
// and each file in it).
func BenchmarkTokenFileResolve(b *testing.B) {
	file := filepath.Join(b.TempDir(), "tokens")
	writeBenchTokens(b, file, 0, 10000)
	dir := b.TempDir()
	for i := range 1000 {
		writeBenchTokens(b, filepath.Join(dir, fmt.Sprintf("vm%04d", i)), i*10, 10)
	}
	for _, src := range []struct{ name, path, hit string }{
		{"file10000", file, "tok-9999"},
		{"dir1000", dir, "tok-5005"},
	} {
		tf := benchTokenFile(src.path)
		if err := tf.Load(); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := tf.Resolve(ctx, src.hit); err != nil {
			b.Fatal(err)
		}
		b.Run(src.name+"/hit", func(b *testing.B) {
			for b.Loop() {
				if _, err := tf.Resolve(ctx, src.hit); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(src.name+"/miss", func(b *testing.B) {
			for b.Loop() {
				if _, err := tf.Resolve(ctx, "nope"); err == nil {
					b.Fatal("found")
				}
			}
		})
		if src.name == "file10000" {
			// Within racyWindow of a change every check reads the file again
			// (a same-size rewrite in one timestamp tick must not hide).
			racy := benchTokenFile(src.path)
			racy.settle = time.Hour
			b.Run(src.name+"/hit-just-changed", func(b *testing.B) {
				for b.Loop() {
					if _, err := racy.Resolve(ctx, src.hit); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(src.name+"/hit-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := tf.Resolve(ctx, src.hit); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func writeBenchTokens(b *testing.B, path string, first, n int) {
	b.Helper()
	var sb strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&sb, "tok-%d: 10.%d.%d.%d:%d\n", i, i>>16&255, i>>8&255, i&255, 5900+i%100)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
}

// benchTokenFile returns a TokenFile that takes the benchmark's files, just
// written, for settled: the steady state of a source older than racyWindow.
func benchTokenFile(path string) *TokenFile {
	return &TokenFile{Path: path, Logger: quietLogger(io.Discard), settle: time.Nanosecond}
}
