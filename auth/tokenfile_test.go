package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func quietLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func TestTokenFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	write("a: 127.0.0.1:1\n")
	tf := &TokenFile{Path: path, CheckInterval: time.Nanosecond, Logger: quietLogger(&logs)}
	if err := tf.Load(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if tg, err := tf.Resolve(ctx, "a"); err != nil || tg.Address != "127.0.0.1:1" {
		t.Fatalf("a: %v %v", tg, err)
	}
	if _, err := tf.Resolve(ctx, "b"); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("b: %v", err)
	}

	write("a: 127.0.0.1:1\nb: 127.0.0.1:2\n") // an edit is seen without a restart
	if tg, err := tf.Resolve(ctx, "b"); err != nil || tg.Address != "127.0.0.1:2" {
		t.Fatalf("b after edit: %v %v", tg, err)
	}

	if err := os.Remove(path); err != nil { // the file goes away: last good tokens stay
		t.Fatal(err)
	}
	if tg, err := tf.Resolve(ctx, "b"); err != nil || tg.Address != "127.0.0.1:2" {
		t.Fatalf("b after delete: %v %v", tg, err)
	}
	if !strings.Contains(logs.String(), "keeping the last good tokens") {
		t.Fatalf("no error logged for the missing file: %s", logs.String())
	}

	write("garbage\nc: 127.0.0.1:3\n") // malformed lines are skipped, good ones taken
	if tg, err := tf.Resolve(ctx, "c"); err != nil || tg.Address != "127.0.0.1:3" {
		t.Fatalf("c: %v %v", tg, err)
	}
	if _, err := tf.Resolve(ctx, "b"); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("b should be gone: %v", err)
	}
	if strings.Contains(logs.String(), "garbage") {
		t.Fatalf("a token file line reached the log: %s", logs.String())
	}
}

func TestTokenFileDirectoryAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "one"), []byte("x: 127.0.0.1:1\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "two"), []byte("y: [::1]:2\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, ".swp"), []byte("z: 127.0.0.1:3\n"), 0o600))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o700))

	ro := &TokenFile{Path: dir, ReadOnly: true, Logger: quietLogger(io.Discard)}
	must(ro.Load())
	if ro.Len() != 2 {
		t.Fatalf("%d tokens, want 2 (hidden files skipped)", ro.Len())
	}
	must(os.WriteFile(filepath.Join(dir, "three"), []byte("w: 127.0.0.1:4\n"), 0o600))
	if _, err := ro.Resolve(context.Background(), "w"); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("ReadOnlyTokenFile reloaded: %v", err)
	}
	rw := &TokenFile{Path: dir, CheckInterval: time.Nanosecond, Logger: quietLogger(io.Discard)}
	if tg, err := rw.Resolve(context.Background(), "w"); err != nil || tg.Address != "127.0.0.1:4" {
		t.Fatalf("w: %v %v", tg, err)
	}
}
