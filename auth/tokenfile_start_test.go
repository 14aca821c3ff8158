package auth

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenFileStart: what Load says at start. A source that cannot be
// read is an error that names it once and logs nothing (there are no last
// good tokens to keep); a source with no tokens loads, with a warning that
// every console is refused until tokens are added.
func TestTokenFileStart(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.d")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	comments := filepath.Join(dir, "comments")
	if err := os.WriteFile(comments, []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		readOnly   bool
		err        string // "" when it loads
		log        string // what the log must say
	}{
		{"missing", filepath.Join(dir, "nosuch"), false, "token source " + filepath.Join(dir, "nosuch") + ": no such file or directory", ""},
		{"empty directory", empty, false, "", "the source is read again at each lookup"},
		{"no tokens in the file", comments, false, "", "every console is refused (403)"},
		{"read-only, no tokens", comments, true, "", "then SIGHUP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tf := &TokenFile{Path: tc.path, ReadOnly: tc.readOnly, Logger: quietLogger(&logs)}
			err := tf.Load()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("Load: %v, want %q (fs.ErrNotExist)", err, tc.err)
				}
				if logs.Len() != 0 {
					t.Fatalf("logged before any tokens were loaded:\n%s", logs.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("want a warning saying %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

// TestTokenFileHostTokensCase: with HostTokens, a load warns about tokens
// with upper-case letters (a browser's Host never matches them), giving
// their number and never a token.
func TestTokenFileHostTokensCase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("vm1: 127.0.0.1:1\nVM2-Secret: 127.0.0.1:2\nvM3: 127.0.0.1:3\nvm-ß: 127.0.0.1:4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		hostTokens bool
		warn       bool
	}{
		{"host tokens", true, true},
		{"query tokens", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tf := &TokenFile{Path: path, HostTokens: tc.hostTokens, Logger: quietLogger(&logs)}
			if err := tf.Load(); err != nil {
				t.Fatal(err)
			}
			got := logs.String()
			warned := strings.Contains(got, "tokens with upper-case letters never match a browser")
			if warned != tc.warn {
				t.Fatalf("warned %v, want %v:\n%s", warned, tc.warn, got)
			}
			if tc.warn && !strings.Contains(got, "tokens_with_upper_case=2") {
				t.Fatalf("want the count 2:\n%s", got)
			}
			for _, tok := range []string{"VM2-Secret", "vM3"} {
				if strings.Contains(got, tok) {
					t.Fatalf("the log holds a token:\n%s", got)
				}
			}
			// The tokens are compared as they are written.
			if _, err := tf.Resolve(t.Context(), "vm2-secret"); !errors.Is(err, ErrUnknownToken) {
				t.Fatalf("lower-cased token: %v, want unknown", err)
			}
			if _, err := tf.Resolve(t.Context(), "VM2-Secret"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
