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
