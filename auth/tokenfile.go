package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// racyWindow is how long after a file's last change its timestamps may fail
// to show the next change: the timestamp granularity of the file systems a
// token source lives on (a clock tick on ext4 and XFS, 1 s on ext3 and some
// FUSE file systems, 2 s for FAT's mtime). Until a file is that old, every
// check reads it again (git's "racily clean" entries, the same problem).
const racyWindow = 3 * time.Second

// TokenFile is websockify's TokenFile and ReadOnlyTokenFile plugins: tokens
// from a file, or from every file in a directory (ParseTokens gives the
// format).
//
// Freshness. websockify reads the whole source again on every lookup. A
// TokenFile gives the same answers without that cost: every lookup waits for
// a check of the source that started after the lookup did, so a token written
// before the browser connected is found and one removed is not. A check
// stats the file (or the directory and each of its files) and reads again
// only a file whose device, inode, size, mtime or ctime changed, or that
// changed so recently that a further change could hide inside one timestamp
// tick (racyWindow): a same-size rewrite within a tick is seen too. Lookups
// that arrive while a check runs share the next one, so a burst costs one
// check, not one per lookup. A check costs one stat for a file and one
// fstatat(2) per entry for a directory (BenchmarkTokenFileResolve); reading
// and parsing happen only for what changed. Residual cases: a network file system whose
// client caches attributes (NFS acregmin, 3 s by default) shows another
// host's change once the cache expires; a clock stepped backwards by more
// than racyWindow can hide a same-size rewrite that keeps the old inode.
//
// Directories. Entries whose names start with '.' are skipped (editors' swap
// files; Kubernetes' ..data), and so is anything that is not a regular file
// after following symbolic links (subdirectories, sockets, FIFOs); symbolic
// links to regular files are read, as websockify reads them. Files are read
// in name order and a later file's line wins for a token in several files
// (websockify's order is the directory's). websockify reads hidden files and
// fails every lookup on a subdirectory.
//
// Failures. A source that cannot be read (gone, unreadable) keeps the last
// good tokens in force, file by file, and is logged once until it reads
// again; before it was ever read, nothing is in force and the error is the
// caller's to report (Load: the command line refuses to start); a source
// with no tokens is loaded, with a warning that every console is refused; lines that do not parse are skipped and logged once per change of
// their file, with file and line number and never their text. websockify
// fails the lookup instead.
type TokenFile struct {
	// Path is the file or directory.
	Path string
	// ReadOnly loads the source once and never again (ReadOnlyTokenFile).
	ReadOnly bool
	// Logger receives reload reports; nil means slog.Default().
	Logger *slog.Logger
	// HostTokens says the tokens are taken from Host headers (websockify's
	// --host-token). Tokens are compared with case, as websockify does, and
	// browsers send host names in lower case, so a token with an upper-case
	// letter never matches a browser's request: each load then warns with
	// the number of such tokens (never the tokens).
	HostTokens bool

	tokens atomic.Pointer[map[string]Target] // in force; never written once stored
	// quick lets ResolveNow answer for a single-file source without a
	// check: the signature of the file behind the tokens in force, stored
	// by a check that found it settled (not racy); nil otherwise.
	quick atomic.Pointer[quickState]

	mu       sync.Mutex
	started  uint64        // checks started
	finished uint64        // the number of the last check that finished
	running  chan struct{} // closed when the check in progress ends; nil when none runs
	result   error         // of the last check that finished
	waiters  int           // lookups waiting for a check to end (tests read it)

	// Owned by the goroutine running a check.
	seed   maphash.Seed
	file   *fileState        // the source, when it is a file
	dir    *dirState         // the source, when it is a directory
	failed map[string]string // path → the error last logged for it
	settle time.Duration     // racyWindow when zero (tests shorten it)
	hook   func()            // tests: runs at the end of every check
}

// quickState is a settled single-file source: its signature and the tokens
// read from it.
type quickState struct {
	sig    fileSig
	tokens *map[string]Target
}

// fileState is one token file as last read.
type fileState struct {
	sig    fileSig
	racy   bool   // changed within racyWindow of being read: read it again
	sum    uint64 // maphash of the contents
	tokens map[string]Target
}

// dirState is a token directory as last listed.
type dirState struct {
	sig   fileSig
	racy  bool
	names []string // sorted, hidden entries left out
	files map[string]*fileState
}

// Load reads the whole source now and reports an error if it cannot be read;
// the command line calls it at start so that a wrong path fails loudly.
func (f *TokenFile) Load() error {
	err, _ := f.refresh(context.Background(), true)
	return err
}

// Reload checks the source now and reads again what changed, or everything
// when force is set (SIGHUP). It is safe to call from any goroutine; it
// reports why the source, or a file of it, could not be read.
func (f *TokenFile) Reload(force bool) error {
	err, _ := f.refresh(context.Background(), force)
	return err
}

// Resolve implements Resolver. It waits for a check of the source that
// started after it was called (see TokenFile), or only for the first load
// when ReadOnly. It returns ErrUnknownToken for a token not in force, ctx's
// error if ctx ends first, and the read error when no tokens were ever
// loaded.
func (f *TokenFile) Resolve(ctx context.Context, token string) (Target, error) {
	m := f.tokens.Load()
	if m == nil || !f.ReadOnly {
		checkErr, ctxErr := f.refresh(ctx, false)
		if ctxErr != nil {
			return Target{}, ctxErr
		}
		if m = f.tokens.Load(); m == nil {
			return Target{}, fmt.Errorf("token source %s: %w", f.Path, checkErr)
		}
	}
	t, ok := (*m)[token]
	if !ok {
		return Target{}, ErrUnknownToken
	}
	return t, nil
}

// ResolveNow implements auth.ImmediateResolver. A ReadOnly source answers
// from memory once loaded. Otherwise it answers at once only for a source
// that is one file, settled at its last check: one stat(2) of the file,
// and the tokens in memory when the file's signature is the one they were
// read at; this is the answer a check started now would give (see
// TokenFile: a settled file whose signature did not change was not
// rewritten). A directory source, a file changed since its last check or
// too recently, and a source that does not stat, return ErrWouldBlock:
// Resolve then runs the check.
func (f *TokenFile) ResolveNow(token string) (Target, error) {
	var m *map[string]Target
	if f.ReadOnly {
		if m = f.tokens.Load(); m == nil {
			return Target{}, ErrWouldBlock
		}
	} else {
		q := f.quick.Load()
		if q == nil {
			return Target{}, ErrWouldBlock
		}
		if sig, err := statSig(f.Path); err != nil || sig != q.sig {
			return Target{}, ErrWouldBlock
		}
		m = q.tokens
	}
	t, ok := (*m)[token]
	if !ok {
		return Target{}, ErrUnknownToken
	}
	return t, nil
}

// Len returns the number of tokens in force.
func (f *TokenFile) Len() int {
	if m := f.tokens.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// refresh returns once a check that started after refresh was called has
// finished, running it itself when no check is running; checks never
// overlap. force runs a check that reads everything, never sharing one.
// ctxErr is set when ctx ended first; checkErr is the check's result.
func (f *TokenFile) refresh(ctx context.Context, force bool) (checkErr, ctxErr error) {
	f.mu.Lock()
	need := f.started + 1
	for {
		if !force && f.finished >= need {
			err := f.result
			f.mu.Unlock()
			return err, nil
		}
		if f.running == nil {
			f.started++
			n, done := f.started, make(chan struct{})
			f.running = done
			f.mu.Unlock()
			err := f.check(force)
			f.mu.Lock()
			f.running, f.finished, f.result = nil, n, err
			f.mu.Unlock()
			close(done)
			return err, nil
		}
		done := f.running
		f.waiters++
		f.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			f.mu.Lock()
			f.waiters--
			f.mu.Unlock()
			return nil, fmt.Errorf("wait for a check of token source %s: %w", f.Path, ctx.Err())
		}
		f.mu.Lock()
		f.waiters--
	}
}

// check looks at the source and publishes its tokens if they changed.
func (f *TokenFile) check(force bool) error {
	if f.hook != nil {
		defer f.hook()
	}
	if f.failed == nil {
		f.seed, f.failed = maphash.MakeSeed(), map[string]string{}
	}
	start := time.Now()
	f.quick.Store(nil) // stored again below by a check that finds a settled file
	fi, err := os.Stat(f.Path)
	if err != nil {
		return f.fail(f.Path, fmt.Errorf("token source %s: %w", f.Path, pathErr(err)))
	}
	if fi.IsDir() {
		f.file = nil
		return f.checkDir(fi, start, force)
	}
	f.dir = nil
	if !fi.Mode().IsRegular() {
		return f.fail(f.Path, fmt.Errorf("token source %s: not a regular file or directory", f.Path))
	}
	st, changed, err := f.readIfChanged(f.Path, f.file, sigOf(fi), start, force)
	if err != nil {
		return f.fail(f.Path, err)
	}
	f.recovered(f.Path)
	f.file = st
	if changed || f.tokens.Load() == nil {
		f.publish(st.tokens, 1)
	}
	if st.racy {
		f.quick.Store(nil)
	} else {
		f.quick.Store(&quickState{sig: st.sig, tokens: f.tokens.Load()})
	}
	return nil
}

// checkDir checks a token directory: it lists it again when its own
// signature changed and reads the files whose signatures changed. Files are
// stat'ed relative to the open directory: one fstatat each.
func (f *TokenFile) checkDir(fi fs.FileInfo, start time.Time, force bool) error {
	dh, err := os.Open(f.Path)
	if err != nil {
		return f.fail(f.Path, fmt.Errorf("token directory %s: %w", f.Path, pathErr(err)))
	}
	defer dh.Close()
	d, changed := f.dir, false
	if d == nil {
		d, changed = &dirState{files: map[string]*fileState{}}, true
		f.dir = d
	}
	relisted := false
	if sig := sigOf(fi); force || d.names == nil || d.racy || sig != d.sig {
		relisted = true
		names, err := listTokenDir(dh)
		if err != nil {
			return f.fail(f.Path, err)
		}
		changed = changed || !slices.Equal(names, d.names)
		d.names, d.sig, d.racy = names, sig, sig.changedAfter(start.Add(-f.window()))
	}
	f.recovered(f.Path)
	var firstErr error
	for _, name := range d.names {
		sig, regular, err := statAt(dh, name)
		old := d.files[name]
		if errors.Is(err, fs.ErrNotExist) || err == nil && !regular {
			if old != nil { // removed since the listing, or no longer a token file
				delete(d.files, name)
				changed = true
			}
			continue
		}
		if err == nil && old != nil && !force && !old.racy && sig == old.sig {
			continue // the common case: nothing to read
		}
		p := filepath.Join(f.Path, name)
		if err == nil {
			var st *fileState
			var ch bool
			st, ch, err = f.readIfChanged(p, old, sig, start, force)
			switch {
			case err == nil:
				f.recovered(p)
				d.files[name] = st
				changed = changed || ch
				continue
			case errors.Is(err, fs.ErrNotExist): // removed since the stat
				if old != nil {
					delete(d.files, name)
					changed = true
				}
				continue
			}
		}
		firstErr = cmp.Or(firstErr, f.fail(p, err)) // its last good tokens stay
	}
	if relisted { // drop the files no longer listed
		for name := range d.files {
			if _, listed := slices.BinarySearch(d.names, name); !listed {
				delete(d.files, name)
				changed = true
			}
		}
	}
	if changed || f.tokens.Load() == nil {
		merged := map[string]Target{}
		for _, name := range d.names {
			if st := d.files[name]; st != nil {
				for tok, t := range st.tokens {
					merged[tok] = t
				}
			}
		}
		f.publish(merged, len(d.files))
	}
	return firstErr
}

// readIfChanged returns old when sig matches it and it is not racy, and
// otherwise reads the file again; changed reports new contents.
func (f *TokenFile) readIfChanged(path string, old *fileState, sig fileSig, start time.Time, force bool) (st *fileState, changed bool, err error) {
	if old != nil && !force && !old.racy && sig == old.sig {
		return old, false, nil
	}
	data, sig, err := readTokenFile(path)
	if err != nil {
		return old, false, err
	}
	st = &fileState{sig: sig, racy: sig.changedAfter(start.Add(-f.window())), sum: maphash.Bytes(f.seed, data)}
	if old != nil && old.sum == st.sum {
		st.tokens = old.tokens
		return st, false, nil
	}
	st.tokens = map[string]Target{}
	for _, e := range parseTokenData(data, path, st.tokens) {
		f.logger().Warn("token file line skipped", "err", e)
	}
	return st, true, nil
}

// readTokenFile reads a regular file and returns the signature of what it
// read (fstat of the open file).
func readTokenFile(path string) ([]byte, fileSig, error) {
	fh, err := openNoBlock(path)
	if err != nil {
		return nil, fileSig{}, fmt.Errorf("open token file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fileSig{}, fmt.Errorf("stat token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fileSig{}, fmt.Errorf("token file %s: not a regular file", path)
	}
	data := make([]byte, 0, fi.Size()+512) // the size read may have grown since
	data, err = readAll(fh, data)
	if err != nil {
		return nil, fileSig{}, fmt.Errorf("read token file: %w", err)
	}
	return data, sigOf(fi), nil
}

// readAll appends r's bytes to buf until EOF (io.ReadAll with a first
// buffer sized from fstat).
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// listTokenDir returns the sorted names in the open directory dir that may
// be token files: not hidden, not a directory.
func listTokenDir(dir *os.File) ([]string, error) {
	if _, err := dir.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("list token directory: %w", err)
	}
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list token directory: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (f *TokenFile) publish(tokens map[string]Target, files int) {
	f.tokens.Store(&tokens)
	f.logger().Info("tokens loaded", "source", f.Path, "files", files, "tokens", len(tokens))
	if f.HostTokens {
		upper := 0
		for tok := range tokens {
			if strings.ContainsFunc(tok, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
				upper++
			}
		}
		if upper > 0 {
			f.logger().Warn("tokens with upper-case letters never match a browser with --host-token: browsers send host names in lower case, and tokens are compared with case; make them lower case",
				"source", f.Path, "tokens_with_upper_case", upper)
		}
	}
	if len(tokens) == 0 {
		then := "the source is read again at each lookup: add tokens, no reload needed"
		if f.ReadOnly {
			then = "ReadOnlyTokenFile reads it once: add tokens, then SIGHUP"
		}
		f.logger().Warn("token source holds no tokens: every console is refused (403) until it does; "+then, "source", f.Path)
	}
}

// pathErr is err without the *fs.PathError around it, whose text repeats
// the operation and path that the caller's message names already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fail logs err for path unless it was the last error logged for it, and
// returns it. Before any tokens were loaded it logs nothing: there are no
// last good tokens to keep, and the caller reports the error (Load's caller
// refuses to start; a lookup fails with it, 503).
func (f *TokenFile) fail(path string, err error) error {
	if f.tokens.Load() == nil {
		return err
	}
	if msg := err.Error(); f.failed[path] != msg {
		f.failed[path] = msg
		f.logger().Error("token source unreadable; keeping the last good tokens",
			"source", path, "tokens", f.Len(), "err", err)
	}
	return err
}

// recovered notes that path reads again after a failure.
func (f *TokenFile) recovered(path string) {
	if len(f.failed) == 0 {
		return
	}
	if _, ok := f.failed[path]; ok {
		delete(f.failed, path)
		f.logger().Info("token source readable again", "source", path)
	}
}

func (f *TokenFile) window() time.Duration {
	if f.settle > 0 {
		return f.settle
	}
	return racyWindow
}

func (f *TokenFile) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
