package auth

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

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
			testutil.ReportLatency(b, func(i int) error {
				_, err := r.res.Resolve(ctx, fmt.Sprintf("t%d", i%100))
				return err
			})
		})
	}
}
