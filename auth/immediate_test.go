package auth

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestTokenFileResolveNow: the loop's lookup answers from memory only when
// a check started now would give the same answer; otherwise it says it
// would block, and the worker's Resolve answers.
func TestTokenFileResolveNow(t *testing.T) {
	vm1, vm2 := "10.0.0.1:5900", "10.0.0.2:5900"
	cases := []struct {
		name     string
		dir      bool
		readOnly bool
		settle   time.Duration
		change   func(s tokenFS)
		token    string
		want     string // "" unknown; "block" ErrWouldBlock
	}{
		{"settled file, known token", false, false, time.Nanosecond, nil, "a", vm1},
		{"settled file, unknown token", false, false, time.Nanosecond, nil, "zz", ""},
		{"settled file appended", false, false, time.Nanosecond,
			func(s tokenFS) { s.appendLine("tokens", "b: "+vm2+"\n") }, "b", "block"},
		{"settled file rewritten in place, same size and mtime", false, false, time.Nanosecond,
			func(s tokenFS) { s.rewriteInPlace("tokens", "a: "+vm2+"\n") }, "a", "block"},
		{"settled file replaced by rename", false, false, time.Nanosecond,
			func(s tokenFS) { s.replace("tokens", "a: "+vm2+"\n") }, "a", "block"},
		{"settled file removed", false, false, time.Nanosecond,
			func(s tokenFS) { s.do(os.Remove(s.path("tokens"))) }, "a", "block"},
		{"file changed within the racy window", false, false, time.Hour, nil, "a", "block"},
		{"directory source", true, false, time.Nanosecond, nil, "a", "block"},
		{"read-only source, changed", false, true, time.Hour,
			func(s tokenFS) { s.replace("tokens", "a: "+vm2+"\n") }, "a", vm1},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			s := tokenFS{t, t.TempDir()}
			src := s.path("tokens")
			if tt.dir {
				src = s.dir
			}
			s.write("tokens", "a: "+vm1+"\n")
			tf := &TokenFile{Path: src, ReadOnly: tt.readOnly, Logger: quietLogger(io.Discard), settle: tt.settle}
			if _, err := tf.ResolveNow("a"); !errors.Is(err, ErrWouldBlock) {
				t.Fatalf("before the first load: %v, want ErrWouldBlock", err)
			}
			if err := tf.Load(); err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(s)
			}
			got, err := tf.ResolveNow(tt.token)
			switch tt.want {
			case "block":
				if !errors.Is(err, ErrWouldBlock) {
					t.Fatalf("got %v %v, want ErrWouldBlock", got, err)
				}
				return
			case "":
				if !errors.Is(err, ErrUnknownToken) {
					t.Fatalf("got %v %v, want unknown", got, err)
				}
			default:
				if err != nil || got.Address != tt.want {
					t.Fatalf("got %v %v, want %s", got, err, tt.want)
				}
			}
			// Whatever ResolveNow answered, Resolve (a check started now)
			// answers the same.
			got2, err2 := tf.Resolve(context.Background(), tt.token)
			if got2 != got || (err == nil) != (err2 == nil) || err != nil && !errors.Is(err2, ErrUnknownToken) {
				t.Fatalf("Resolve %v %v differs from ResolveNow %v %v", got2, err2, got, err)
			}
		})
	}
}

// TestTokenFileResolveNowAfterCheck: once a check has read a changed file
// and it has settled, the loop answers from memory again, with the new
// tokens.
func TestTokenFileResolveNowAfterCheck(t *testing.T) {
	s := tokenFS{t, t.TempDir()}
	s.write("tokens", "a: 10.0.0.1:5900\n")
	tf := &TokenFile{Path: s.path("tokens"), Logger: quietLogger(io.Discard), settle: time.Nanosecond}
	if err := tf.Load(); err != nil {
		t.Fatal(err)
	}
	s.appendLine("tokens", "b: 10.0.0.2:5900\n")
	if _, err := tf.ResolveNow("b"); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("changed file: %v, want ErrWouldBlock", err)
	}
	if _, err := tf.Resolve(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if got, err := tf.ResolveNow("b"); err != nil || got.Address != "10.0.0.2:5900" {
		t.Fatalf("after the check: %v %v", got, err)
	}
}

// TestCacheResolveNow: a fresh kept answer at once, found or unknown; a
// stale or missing one, and a held lock, would block.
func TestCacheResolveNow(t *testing.T) {
	vm1 := Target{Network: "tcp", Address: "10.0.0.1:5900"}
	store := &countingStore{targets: map[string]Target{"a": vm1}}
	c, clk := newTestCache(store)
	if _, err := c.ResolveNow("a"); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("nothing kept: %v", err)
	}
	if _, err := c.Resolve(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(context.Background(), "nope"); !errors.Is(err, ErrUnknownToken) {
		t.Fatal(err)
	}
	if got, err := c.ResolveNow("a"); err != nil || got != vm1 {
		t.Fatalf("kept: %v %v", got, err)
	}
	if _, err := c.ResolveNow("nope"); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("kept unknown: %v", err)
	}
	c.mu.Lock()
	_, err := c.ResolveNow("a")
	c.mu.Unlock()
	if !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("lock held: %v", err)
	}
	clk.add(time.Hour)
	if _, err := c.ResolveNow("a"); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("stale: %v", err)
	}
	if n := store.calls.Load(); n != 2 {
		t.Fatalf("%d store lookups, want 2 (ResolveNow never asks the store)", n)
	}
}

// TestStaticResolveNow: the fixed target, at once.
func TestStaticResolveNow(t *testing.T) {
	s := Static{Target: Target{Network: "tcp", Address: "10.0.0.1:5900"}}
	var r Resolver = s
	im, ok := r.(ImmediateResolver)
	if !ok {
		t.Fatal("Static is not an ImmediateResolver")
	}
	if got, err := im.ResolveNow(""); err != nil || got != s.Target {
		t.Fatalf("%v %v", got, err)
	}
}
