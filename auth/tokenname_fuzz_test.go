package auth

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzTokenName checks that a token accepted as a directory entry's name
// never leaves the directory, and that a TokenFileName file's text either
// parses to a target or is refused without panicking.
func FuzzTokenName(f *testing.F) {
	for _, s := range []string{"vm1", "..", ".", "", "a/b", "../x", "x\x00", "/etc/passwd", "a b", "…", "10.0.0.1:5901\n"} {
		f.Add(s)
	}
	const dir = "/run/consoles"
	f.Fuzz(func(t *testing.T, token string) {
		p, err := checkTokenName(dir, token, maxUnixPath)
		if err != nil {
			if !errors.Is(err, ErrUnknownToken) {
				t.Fatalf("error %v is not ErrUnknownToken", err)
			}
		} else if filepath.Dir(p) != dir || filepath.Base(p) != token || strings.ContainsRune(token, 0) || len(p) > maxUnixPath {
			t.Fatalf("token %q accepted as %q", token, p)
		}
		if tg, reason := parseNamedTarget([]byte(token)); reason == "" && tg.Network != "tcp" && tg.Network != "unix" {
			t.Fatalf("target %+v", tg)
		}
	})
}
