package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
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
	tf := &TokenFile{Path: path, Logger: quietLogger(&logs)}
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
	rw := &TokenFile{Path: dir, Logger: quietLogger(io.Discard)}
	if tg, err := rw.Resolve(context.Background(), "w"); err != nil || tg.Address != "127.0.0.1:4" {
		t.Fatalf("w: %v %v", tg, err)
	}
}

// tokenFS is a token source on disk that a test changes under a TokenFile.
type tokenFS struct {
	t   *testing.T
	dir string
}

func (s tokenFS) path(name string) string { return filepath.Join(s.dir, name) }

func (s tokenFS) write(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(s.path(name), []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s tokenFS) do(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// rewriteInPlace overwrites a file's bytes without truncating or replacing
// it (same inode, same size when content is as long), then puts its old
// modification time back: only ctime and the contents differ.
func (s tokenFS) rewriteInPlace(name, content string) {
	s.t.Helper()
	fi, err := os.Stat(s.path(name))
	s.do(err)
	fh, err := os.OpenFile(s.path(name), os.O_WRONLY, 0)
	s.do(err)
	_, err = fh.WriteAt([]byte(content), 0)
	s.do(err)
	s.do(fh.Close())
	s.do(os.Chtimes(s.path(name), fi.ModTime(), fi.ModTime()))
}

// replace writes content to a new file and renames it over name, keeping the
// old modification time: an atomic update of the same size.
func (s tokenFS) replace(name, content string) {
	s.t.Helper()
	fi, err := os.Stat(s.path(name))
	s.do(err)
	tmp := s.path(".tmp-" + name)
	s.write(".tmp-"+name, content)
	s.do(os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
	s.do(os.Rename(tmp, s.path(name)))
}

func (s tokenFS) appendLine(name, line string) {
	s.t.Helper()
	fh, err := os.OpenFile(s.path(name), os.O_WRONLY|os.O_APPEND, 0)
	s.do(err)
	_, err = fh.WriteString(line)
	s.do(err)
	s.do(fh.Close())
}

// freshnessCase changes a token source just before a lookup, with no pause
// in between: the lookup must see the change.
type freshnessCase struct {
	name   string
	dir    bool            // the source is the directory, not the file "tokens"
	setup  func(s tokenFS) // before the TokenFile's first lookup
	change func(s tokenFS) // between two lookups
	token  string          // looked up after change
	want   string          // its address; "" means unknown
	settle time.Duration   // TokenFile.settle; zero is racyWindow
}

var freshnessCases = []freshnessCase{
	{name: "new token file written", dir: true,
		change: func(s tokenFS) { s.write("vm1", "good: 127.0.0.1:5901\n") },
		token:  "good", want: "127.0.0.1:5901"},
	{name: "file rewritten with a new token",
		setup:  func(s tokenFS) { s.write("tokens", "old: 127.0.0.1:5900\n") },
		change: func(s tokenFS) { s.write("tokens", "old: 127.0.0.1:5900\ngood: 127.0.0.1:5901\n") },
		token:  "good", want: "127.0.0.1:5901"},
	{name: "line appended",
		setup:  func(s tokenFS) { s.write("tokens", "old: 127.0.0.1:5900\n") },
		change: func(s tokenFS) { s.appendLine("tokens", "good: 127.0.0.1:5901\n") },
		token:  "good", want: "127.0.0.1:5901"},
	{name: "line deleted",
		setup:  func(s tokenFS) { s.write("tokens", "good: 127.0.0.1:5901\nold: 127.0.0.1:5900\n") },
		change: func(s tokenFS) { s.write("tokens", "old: 127.0.0.1:5900\n") },
		token:  "good"},
	{name: "file emptied",
		setup:  func(s tokenFS) { s.write("tokens", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.write("tokens", "") },
		token:  "good"},
	{name: "same size rewrite in place, mtime kept",
		setup:  func(s tokenFS) { s.write("tokens", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.rewriteInPlace("tokens", "good: 127.0.0.1:5909\n") },
		token:  "good", want: "127.0.0.1:5909"},
	{name: "same size token swap in place",
		setup:  func(s tokenFS) { s.write("tokens", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.rewriteInPlace("tokens", "gooo: 127.0.0.1:5901\n") },
		token:  "good"},
	{name: "same size atomic replace, mtime kept",
		setup:  func(s tokenFS) { s.write("tokens", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.replace("tokens", "good: 127.0.0.1:5909\n") },
		token:  "good", want: "127.0.0.1:5909"},
	{name: "same size atomic replace of a settled file (inode)", settle: time.Nanosecond,
		setup:  func(s tokenFS) { s.write("tokens", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.replace("tokens", "good: 127.0.0.1:5909\n") },
		token:  "good", want: "127.0.0.1:5909"},
	{name: "directory file added", dir: true,
		setup:  func(s tokenFS) { s.write("a", "old: 127.0.0.1:5900\n") },
		change: func(s tokenFS) { s.write("b", "good: 127.0.0.1:5901\n") },
		token:  "good", want: "127.0.0.1:5901"},
	{name: "directory file removed", dir: true,
		setup: func(s tokenFS) {
			s.write("a", "old: 127.0.0.1:5900\n")
			s.write("b", "good: 127.0.0.1:5901\n")
		},
		change: func(s tokenFS) { s.do(os.Remove(s.path("b"))) },
		token:  "good"},
	{name: "directory last file removed", dir: true,
		setup:  func(s tokenFS) { s.write("b", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.do(os.Remove(s.path("b"))) },
		token:  "good"},
	{name: "directory file rewritten in place, same size", dir: true,
		setup: func(s tokenFS) {
			s.write("a", "old: 127.0.0.1:5900\n")
			s.write("b", "good: 127.0.0.1:5901\n")
		},
		change: func(s tokenFS) { s.rewriteInPlace("b", "good: 127.0.0.1:5909\n") },
		token:  "good", want: "127.0.0.1:5909"},
	{name: "directory file renamed to hidden", dir: true,
		setup:  func(s tokenFS) { s.write("b", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.do(os.Rename(s.path("b"), s.path(".b"))) },
		token:  "good"},
	{name: "directory file replaced by a subdirectory", dir: true,
		setup: func(s tokenFS) { s.write("b", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) {
			s.do(os.Remove(s.path("b")))
			s.do(os.Mkdir(s.path("b"), 0o700))
		},
		token: "good"},
	{name: "directory symlink to a token file added", dir: true,
		setup: func(s tokenFS) {
			s.do(os.Mkdir(s.path(".data"), 0o700))
			s.write(".data/vm", "good: 127.0.0.1:5901\n")
		},
		change: func(s tokenFS) { s.do(os.Symlink(".data/vm", s.path("vm"))) },
		token:  "good", want: "127.0.0.1:5901"},
	{name: "directory symlinked data swapped (Kubernetes ConfigMap)", dir: true,
		setup: func(s tokenFS) {
			s.do(os.Mkdir(s.path("..v1"), 0o700))
			s.write("..v1/vm", "good: 127.0.0.1:5901\n")
			s.do(os.Symlink("..v1", s.path("..data")))
			s.do(os.Symlink("..data/vm", s.path("vm")))
		},
		change: func(s tokenFS) {
			s.do(os.Mkdir(s.path("..v2"), 0o700))
			s.write("..v2/vm", "good: 127.0.0.1:5909\n")
			s.do(os.Symlink("..v2", s.path("..data_tmp")))
			s.do(os.Rename(s.path("..data_tmp"), s.path("..data")))
		},
		token: "good", want: "127.0.0.1:5909"},
	{name: "directory later file wins", dir: true,
		setup:  func(s tokenFS) { s.write("a", "good: 127.0.0.1:5900\n") },
		change: func(s tokenFS) { s.write("b", "good: 127.0.0.1:5901\n") },
		token:  "good", want: "127.0.0.1:5901"},
	{name: "directory earlier file does not win", dir: true,
		setup:  func(s tokenFS) { s.write("b", "good: 127.0.0.1:5901\n") },
		change: func(s tokenFS) { s.write("a", "good: 127.0.0.1:5900\n") },
		token:  "good", want: "127.0.0.1:5901"},
}

func TestTokenFileFreshness(t *testing.T) {
	ctx := context.Background()
	for _, tt := range freshnessCases {
		t.Run(tt.name, func(t *testing.T) {
			s := tokenFS{t, t.TempDir()}
			if tt.setup != nil {
				tt.setup(s)
			}
			src := s.dir
			if !tt.dir {
				src = s.path("tokens")
			}
			var logs testutil.Buffer
			tf := &TokenFile{Path: src, Logger: quietLogger(&logs), settle: tt.settle}
			if _, err := tf.Resolve(ctx, "probe"); !errors.Is(err, ErrUnknownToken) {
				t.Fatalf("first lookup: %v", err)
			}
			tt.change(s)
			tg, err := tf.Resolve(ctx, tt.token)
			switch {
			case tt.want == "" && !errors.Is(err, ErrUnknownToken):
				t.Fatalf("got %v %v, want unknown", tg, err)
			case tt.want != "" && (err != nil || tg.Address != tt.want):
				t.Fatalf("got %v %v, want %s", tg, err, tt.want)
			}
			if strings.Contains(logs.String(), "unreadable") {
				t.Fatalf("read failure logged: %s", logs.String())
			}
		})
	}
}

// TestTokenFileCheckStartsAfterRequest holds a check that has read the
// source, changes the source, and makes a lookup meanwhile: the lookup must
// not take the held check's answer but wait for one that starts after it.
func TestTokenFileCheckStartsAfterRequest(t *testing.T) {
	s := tokenFS{t, t.TempDir()}
	s.write("tokens", "old: 127.0.0.1:5900\n")
	tf := &TokenFile{Path: s.path("tokens"), Logger: quietLogger(io.Discard)}
	s.do(tf.Load())
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	tf.hook = func() {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { // its check reads the source, then is held
		_, err := tf.Resolve(ctx, "good")
		first <- err
	}()
	<-held
	s.write("tokens", "old: 127.0.0.1:5900\ngood: 127.0.0.1:5901\n")
	second := make(chan error, 1)
	go func() {
		_, err := tf.Resolve(ctx, "good")
		second <- err
	}()
	waitFor(t, func() bool { // the second lookup waits on the held check
		tf.mu.Lock()
		defer tf.mu.Unlock()
		return tf.waiters == 1
	})
	close(release)
	if err := <-first; err != nil && !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("first lookup: %v", err) // either answer is fresh enough for it
	}
	if err := <-second; err != nil {
		t.Fatalf("second lookup, started after the write: %v", err)
	}
}

// TestTokenFileWaitEndsWithContext: a lookup waiting for a check returns
// when its context ends.
func TestTokenFileWaitEndsWithContext(t *testing.T) {
	s := tokenFS{t, t.TempDir()}
	s.write("tokens", "good: 127.0.0.1:5901\n")
	tf := &TokenFile{Path: s.path("tokens"), Logger: quietLogger(io.Discard)}
	s.do(tf.Load())
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	tf.hook = func() {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = tf.Resolve(context.Background(), "good")
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tf.Resolve(ctx, "good")
	close(release)
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTokenFileConcurrentLookups rewrites the source while lookups run from
// many goroutines (run it with -race). After each version is written, every
// lookup started afterwards finds that version's token and not the previous.
func TestTokenFileConcurrentLookups(t *testing.T) {
	for _, dirMode := range []bool{false, true} {
		t.Run(map[bool]string{false: "file", true: "directory"}[dirMode], func(t *testing.T) {
			s := tokenFS{t, t.TempDir()}
			write := func(v int) {
				if dirMode {
					s.write(fmt.Sprintf("f%d", v), fmt.Sprintf("v%d: 127.0.0.1:%d\n", v, 5900+v))
					if v > 0 {
						s.do(os.Remove(s.path(fmt.Sprintf("f%d", v-1))))
					}
					return
				}
				s.write("tokens", fmt.Sprintf("v%d: 127.0.0.1:%d\n", v, 5900+v))
			}
			write(0)
			src := s.dir
			if !dirMode {
				src = s.path("tokens")
			}
			var logs testutil.Buffer
			tf := &TokenFile{Path: src, Logger: quietLogger(&logs)}
			ctx := context.Background()
			stop := make(chan struct{})
			var background sync.WaitGroup
			for range 4 { // lookups all the time, to overlap with the checks below
				background.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						_, _ = tf.Resolve(ctx, "v0")
					}
				})
			}
			for v := 1; v <= 30; v++ {
				write(v)
				var wg sync.WaitGroup
				errs := make(chan error, 16)
				for range 8 {
					wg.Go(func() {
						cur := fmt.Sprintf("v%d", v)
						if tg, err := tf.Resolve(ctx, cur); err != nil || tg.Address != fmt.Sprintf("127.0.0.1:%d", 5900+v) {
							errs <- fmt.Errorf("%s: %v %v", cur, tg, err)
						}
						prev := fmt.Sprintf("v%d", v-1)
						if _, err := tf.Resolve(ctx, prev); !errors.Is(err, ErrUnknownToken) {
							errs <- fmt.Errorf("%s after v%d was written: %v", prev, v, err)
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				if t.Failed() {
					break
				}
			}
			close(stop)
			background.Wait()
			if strings.Contains(logs.String(), "unreadable") {
				t.Fatalf("read failure logged: %s", logs.String())
			}
		})
	}
}

// TestTokenFileFailures: a source that cannot be read keeps the last good
// tokens and is logged once, with no token text; so are skipped lines.
func TestTokenFileFailures(t *testing.T) {
	const canary = "canary-9d1f"
	s := tokenFS{t, t.TempDir()}
	s.write("tokens", canary+": 127.0.0.1:5901\n")
	var logs testutil.Buffer
	tf := &TokenFile{Path: s.path("tokens"), Logger: quietLogger(&logs)}
	s.do(tf.Load())
	ctx := context.Background()
	s.do(os.Remove(s.path("tokens")))
	for range 3 {
		if tg, err := tf.Resolve(ctx, canary); err != nil || tg.Address != "127.0.0.1:5901" {
			t.Fatalf("after delete: %v %v", tg, err)
		}
	}
	if n := strings.Count(logs.String(), "keeping the last good tokens"); n != 1 {
		t.Fatalf("%d failure lines logged, want 1: %s", n, logs.String())
	}
	s.write("tokens", canary+"-x 127.0.0.1:1\n"+canary+"-y: :1\n"+canary+"-z: 127.0.0.1:5902\n")
	if _, err := tf.Resolve(ctx, canary); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("old token after the file came back: %v", err)
	}
	for range 3 {
		if tg, err := tf.Resolve(ctx, canary+"-z"); err != nil || tg.Address != "127.0.0.1:5902" {
			t.Fatalf("new token: %v %v", tg, err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "token file line skipped"); n != 2 {
		t.Fatalf("%d skipped lines logged, want 2 (once per change): %s", n, out)
	}
	if !strings.Contains(out, "readable again") {
		t.Fatalf("recovery not logged: %s", out)
	}
	if strings.Contains(out, canary) {
		t.Fatalf("a token reached the log: %s", out)
	}
}

// TestTokenFileNeverLoaded: with nothing loaded, a lookup reports the read
// error (the engine answers 503), not an unknown token (403).
func TestTokenFileNeverLoaded(t *testing.T) {
	tf := &TokenFile{Path: filepath.Join(t.TempDir(), "missing"), Logger: quietLogger(io.Discard)}
	if err := tf.Load(); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	_, err := tf.Resolve(context.Background(), "good")
	if err == nil || errors.Is(err, ErrUnknownToken) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

// TestTokenFileNotRegular: a FIFO in a token directory is skipped without
// blocking, and a FIFO as the source is refused.
func TestTokenFileNotRegular(t *testing.T) {
	s := tokenFS{t, t.TempDir()}
	s.write("a", "good: 127.0.0.1:5901\n")
	s.do(syscall.Mkfifo(s.path("fifo"), 0o600))
	tf := &TokenFile{Path: s.dir, Logger: quietLogger(io.Discard)}
	if tg, err := tf.Resolve(context.Background(), "good"); err != nil || tg.Address != "127.0.0.1:5901" {
		t.Fatalf("got %v %v", tg, err)
	}
	if err := (&TokenFile{Path: s.path("fifo"), Logger: quietLogger(io.Discard)}).Load(); err == nil {
		t.Fatal("a FIFO loaded as a token file")
	}
}
