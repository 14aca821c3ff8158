package auth

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// socketTree builds base/socks (the directory looked in) with sockets and
// traps around it, and returns base. Sockets are listening Unix sockets
// closed at the end of the test.
func socketTree(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "vr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	for _, d := range []string{"socks", "socks/sub", "socks-old", "outside"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"socks/vm1", "socks/vm 2", "socks/sub/x", "socks-old/vm9", "outside/s"} {
		l, err := net.Listen("unix", filepath.Join(base, s))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	must(t, os.WriteFile(filepath.Join(base, "socks/file"), []byte("x"), 0o644))
	must(t, os.Symlink("../outside/s", filepath.Join(base, "socks/link-out")))
	must(t, os.Symlink("vm1", filepath.Join(base, "socks/link-in")))
	return base
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// socketDirCases are the tokens tried against socketTree; found is the
// socket (relative to base) vncrelay opens, "" for unknown. differs says
// why websockify answers otherwise, "" when it agrees.
func socketDirCases(base string) []struct{ name, token, found, differs string } {
	return []struct{ name, token, found, differs string }{
		{"socket", "vm1", "socks/vm1", ""},
		{"socket with a space", "vm 2", "socks/vm 2", ""},
		{"regular file", "file", "", ""},
		{"missing", "vm3", "", ""},
		{"subdirectory", "sub", "", ""},
		{"socket in a subdirectory", "sub/x", "", "websockify opens sockets in subdirectories: a token is one file name here"},
		{"sibling with the same prefix", "../socks-old/vm9", "", "websockify's prefix test passes a sibling directory whose name starts with the directory's"},
		{"outside", "../outside/s", "", ""},
		{"parent", "..", "", ""},
		{"dot", ".", "", ""},
		{"empty", "", "", ""},
		{"symbolic link out", "link-out", "", "websockify follows symbolic links out of the directory"},
		{"symbolic link in", "link-in", "", "websockify follows symbolic links; vncrelay takes only sockets themselves"},
		{"absolute path inside", filepath.Join(base, "socks", "vm1"), "", "websockify takes an absolute path that falls inside the directory"},
		{"NUL", "vm1\x00", "", ""},
		{"dot dot inside", "sub/../vm1", "", "websockify collapses the path and opens vm1: a token is one file name here"},
	}
}

func TestSocketDir(t *testing.T) {
	base := socketTree(t)
	d, err := NewSocketDir(filepath.Join(base, "socks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range socketDirCases(base) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Resolve(context.Background(), tc.token)
			if tc.found == "" {
				if !errors.Is(err, ErrUnknownToken) {
					t.Fatalf("got %v, %v; want unknown", got, err)
				}
				return
			}
			want := Target{Network: "unix", Address: filepath.Join(base, tc.found), AddressHoldsToken: true}
			if err != nil || got != want {
				t.Fatalf("got %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestSocketDirFailures(t *testing.T) {
	if _, err := NewSocketDir(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("missing directory accepted")
	}
	f := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(f, nil, 0o644))
	if _, err := NewSocketDir(f); err == nil {
		t.Fatal("file accepted as a directory")
	}
	// The directory removed after start: a store failure (503), not a no.
	dir := t.TempDir()
	d, err := NewSocketDir(dir)
	must(t, err)
	must(t, os.Remove(dir))
	if _, err := d.Resolve(context.Background(), "vm1"); err == nil || errors.Is(err, ErrUnknownToken) {
		t.Fatalf("removed directory: %v, want a store error", err)
	}
	// A name too long for a socket address is unknown, not a dial failure.
	if _, err := d.Resolve(context.Background(), string(make([]byte, 120))); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("long name: %v", err)
	}
}

// TestSocketDirWebsockify resolves the same tokens with websockify's
// UnixDomainSocketDirectory and holds every difference to the cases' list.
func TestSocketDirWebsockify(t *testing.T) {
	for _, v := range []struct{ name, module string }{{"debian", ""}, {"newer", testutil.NewerWebsockify()}} {
		name, module := v.name, v.module
		t.Run(name, func(t *testing.T) {
			if name == "newer" && module == "" {
				t.Skip("VNCRELAY_WEBSOCKIFY_PLUGINS not set")
			}
			base := socketTree(t)
			cases := socketDirCases(base)
			tokens := make([]string, len(cases))
			for i, c := range cases {
				tokens[i] = c.token
			}
			dir := filepath.Join(base, "socks")
			_, initErr, res := testutil.RunWebsockifyPlugin(t, module, "UnixDomainSocketDirectory", dir, tokens)
			if initErr != "" {
				t.Fatalf("websockify: %s", initErr)
			}
			d, err := NewSocketDir(dir)
			must(t, err)
			for i, c := range cases {
				got, err := d.Resolve(context.Background(), c.token)
				ours := "refused"
				if err == nil {
					ours = "unix:" + got.Address // String masks the token; compare the real path
				}
				testutil.CompareWebsockify(t, c.name, ours, res[i], c.differs)
			}
		})
	}
}
