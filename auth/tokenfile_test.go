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

func TestParseTokens(t *testing.T) {
	in := `# comment
vm1: 10.0.0.5:5901
  vm2: host.example:5900  
vm6: [::1]:5902

broken line
vm3:10.0.0.1:5900
vm4: 10.0.0.1
vm5: 10.0.0.1:70000
a: b: c:1
vm1: 10.0.0.6:5901
`
	got := map[string]Target{}
	errs := ParseTokens(strings.NewReader(in), "t.conf", got)
	want := map[string]Target{
		"vm1": {Network: "tcp", Address: "10.0.0.6:5901"}, // a later line wins
		"vm2": {Network: "tcp", Address: "host.example:5900"},
		"vm6": {Network: "tcp", Address: "[::1]:5902"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	wantErrLines := []string{"t.conf:6:", "t.conf:7:", "t.conf:8:", "t.conf:9:", "t.conf:10:"}
	if len(errs) != len(wantErrLines) {
		t.Fatalf("errors %v", errs)
	}
	for i, e := range errs {
		if !strings.HasPrefix(e.Error(), wantErrLines[i]) {
			t.Errorf("error %d = %v, want prefix %s", i, e, wantErrLines[i])
		}
		for _, secret := range []string{"vm3", "vm4", "vm5", "broken"} {
			if strings.Contains(e.Error(), secret) {
				t.Errorf("error %q shows the line's token", e)
			}
		}
	}
}

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

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("a: 127.0.0.1:5900\n# c\nb: [::1]:1\n"))
	f.Add([]byte("x:: y\n\n\t\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]Target{}
		_ = ParseTokens(bytes.NewReader(b), "f", got)
		for tok, tg := range got {
			if tok == "" || strings.ContainsAny(tok, "\n") {
				t.Fatalf("token %q", tok)
			}
			if _, err := ParseHostPort(tg.Address); err != nil {
				t.Fatalf("target %q does not parse again: %v", tg.Address, err)
			}
		}
	})
}
