package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// tokenNameTree builds base/tokens (the directory looked in) and returns
// base.
func tokenNameTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{"tokens", "tokens/sub", "outside"} {
		must(t, os.Mkdir(filepath.Join(base, d), 0o755))
	}
	files := map[string]string{
		"tokens/vm1":     "10.0.0.1:5901\n",
		"tokens/unix":    "  unix_socket:/run/vm2.sock\r\n",
		"tokens/ipv6":    "::1:5901",
		"tokens/bad":     "nonsense",
		"tokens/empty":   "",
		"tokens/bigport": "h:70000",
		"tokens/two":     "h:1\nh:2\n",
		"tokens/sub/vm1": "10.0.0.9:5901",
		"outside/secret": "10.6.6.6:22",
	}
	for name, text := range files {
		must(t, os.WriteFile(filepath.Join(base, name), []byte(text), 0o644))
	}
	must(t, os.Symlink("../outside/secret", filepath.Join(base, "tokens/link")))
	return base
}

// tokenNameCases: want is the target vncrelay opens, "unknown" (403) or
// "error" (503); differs says why websockify answers otherwise.
var tokenNameCases = []struct{ name, token, want, differs string }{
	{"host and port", "vm1", "10.0.0.1:5901", ""},
	{"unix socket", "unix", "unix:/run/vm2.sock", ""},
	{"IPv6 without brackets", "ipv6", "[::1]:5901", "websockify splits at every ':' and cannot use the four parts"},
	{"not a target", "bad", "error", ""},
	{"empty file", "empty", "error", ""},
	{"port out of range", "bigport", "error", "websockify returns port 70000 and getaddrinfo wraps it"},
	{"two lines", "two", "error", ""},
	{"missing", "vm3", "unknown", ""},
	{"subdirectory", "sub", "unknown", ""},
	{"path into a subdirectory", "sub/vm1", "unknown", "websockify keeps only the last element and opens vm1"},
	{"dot dot", "x/../vm1", "unknown", "websockify keeps only the last element and opens vm1"},
	{"parent", "..", "unknown", ""},
	{"empty token", "", "unknown", ""},
	{"symbolic link out", "link", "unknown", "websockify follows symbolic links out of the directory"},
	{"NUL", "vm1\x00", "unknown", ""},
}

func TestTokenFileName(t *testing.T) {
	base := tokenNameTree(t)
	f, err := NewTokenFileName(filepath.Join(base, "tokens"))
	must(t, err)
	for _, tc := range tokenNameCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.Resolve(context.Background(), tc.token)
			switch tc.want {
			case "unknown":
				if !errors.Is(err, ErrUnknownToken) {
					t.Fatalf("got %v, %v; want unknown", got, err)
				}
			case "error":
				if err == nil || errors.Is(err, ErrUnknownToken) {
					t.Fatalf("got %v, %v; want a store error", got, err)
				}
				if tc.token != "" && strings.Contains(err.Error(), tc.token) {
					t.Fatal("error message holds the token")
				}
			default:
				if err != nil || got.String() != tc.want {
					t.Fatalf("got %v, %v; want %s", got, err, tc.want)
				}
			}
		})
	}
	if _, err := NewTokenFileName(filepath.Join(base, "tokens/vm1")); err == nil {
		t.Fatal("a file accepted as the directory")
	}
}

// TestTokenFileNameWebsockify compares with websockify's TokenFileName
// (0.12 and later; Debian's 0.10 has none, so it needs
// VNCRELAY_WEBSOCKIFY_PLUGINS).
func TestTokenFileNameWebsockify(t *testing.T) {
	module := testutil.NewerWebsockify()
	if module == "" {
		t.Skip("VNCRELAY_WEBSOCKIFY_PLUGINS not set (Debian's websockify 0.10 has no TokenFileName)")
	}
	base := tokenNameTree(t)
	dir := filepath.Join(base, "tokens")
	tokens := make([]string, len(tokenNameCases))
	for i, c := range tokenNameCases {
		tokens[i] = c.token
	}
	_, initErr, res := testutil.RunWebsockifyPlugin(t, module, "TokenFileName", dir, tokens)
	if initErr != "" {
		t.Fatalf("websockify: %s", initErr)
	}
	f, err := NewTokenFileName(dir)
	must(t, err)
	for i, c := range tokenNameCases {
		got, err := f.Resolve(context.Background(), c.token)
		ours := "refused"
		if err == nil {
			ours = got.String()
		}
		testutil.CompareWebsockify(t, c.name, ours, res[i], c.differs)
	}
}
