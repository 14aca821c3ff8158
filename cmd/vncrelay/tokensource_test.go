package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTokenSourceMissingAtStart: a token source that cannot be read stops
// the start with one message that names it and says the relay does not
// start, and no log line claims tokens are kept.
func TestTokenSourceMissingAtStart(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, source, says string }{
		{"missing file", filepath.Join(dir, "tokens"), "no such file or directory"},
		{"missing directory", filepath.Join(dir, "tokens.d") + "/", "no such file or directory"},
		{"under a file", filepath.Join(dir, "file", "tokens"), "not a directory"},
		{"not a file", "/dev/null", "not a regular file or directory"},
		{"fifo", fifo, "not a regular file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "fifo" {
				if err := mkfifo(fifo); err != nil {
					t.Skip(err)
				}
			}
			var stderr bytes.Buffer
			err := run([]string{"--token-plugin", "TokenFile", "--token-source", tc.source, "127.0.0.1:0"}, &stderr)
			if err == nil {
				t.Fatal("started")
			}
			msg := err.Error()
			for _, want := range []string{"token source " + tc.source + ": " + tc.says, "not starting", "an empty directory will do"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			if strings.Count(msg, "token source") != 1 {
				t.Errorf("message %q repeats itself", msg)
			}
			if strings.Contains(stderr.String(), "keeping the last good tokens") || strings.Contains(stderr.String(), "level=ERROR") {
				t.Errorf("log contradicts the message:\n%s", stderr.String())
			}
		})
	}
}

func mkfifo(path string) error { return unix.Mkfifo(path, 0o600) }

// TestHostTokenCaseHint: with --host-token, loading a token file whose
// tokens have upper-case letters warns (browsers send host names in lower
// case); without it, nothing is said.
func TestHostTokenCaseHint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("Console-7: 127.0.0.1:5900\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		warn bool
	}{
		{"host token", []string{"--host-token"}, true},
		{"query token", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(append(tc.args, "--token-plugin", "TokenFile", "--token-source", path, "127.0.0.1:0"), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			_, tf, err := o.config(slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil || tf == nil {
				t.Fatalf("config: %v, %v", tf, err)
			}
			if err := loadTokenSource(tf); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "upper-case"); got != tc.warn {
				t.Fatalf("warned %v, want %v:\n%s", got, tc.warn, logs.String())
			}
			if strings.Contains(logs.String(), "Console-7") {
				t.Fatalf("the log holds the token:\n%s", logs.String())
			}
		})
	}
}
