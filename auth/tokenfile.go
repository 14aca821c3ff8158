package auth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxTokenFileLine is the longest line a token file may have; longer lines are
// reported and skipped.
const MaxTokenFileLine = 4096

// ParseTokens reads websockify's token file format: one "token: host:port" per
// line (the token ends at the first colon followed by white space), blank lines
// and lines starting with '#' ignored, IPv6 hosts in brackets. A line that does
// not parse is skipped and reported in errs with its file name and number,
// never its text (it holds a token). A later line for the same token wins.
func ParseTokens(r io.Reader, name string, into map[string]Target) (errs []error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), MaxTokenFileLine)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		tok, target, ok := splitTokenLine(line)
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: want \"token: host:port\"", name, lineNo))
			continue
		}
		t, err := ParseHostPort(string(target))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: bad host:port", name, lineNo))
			continue
		}
		into[string(tok)] = t
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: after line %d: %w", name, lineNo, err))
	}
	return errs
}

// splitTokenLine splits "token: target" at the one colon followed by white
// space, as websockify does; a line with none or several such separators is
// malformed.
func splitTokenLine(line []byte) (tok, target []byte, ok bool) {
	sep := -1
	for i := 0; i+1 < len(line); i++ {
		if line[i] == ':' && (line[i+1] == ' ' || line[i+1] == '\t') {
			if sep >= 0 {
				return nil, nil, false
			}
			sep = i
		}
	}
	if sep <= 0 {
		return nil, nil, false
	}
	tok, target = line[:sep], bytes.TrimSpace(line[sep+1:])
	return tok, target, len(target) > 0
}

// TokenFile is websockify's TokenFile and ReadOnlyTokenFile plugins: tokens
// from a file, or from every regular file in a directory (hidden files, such as
// editors' swap files, are skipped).
//
// Unlike websockify, which reads the whole source again on every lookup, a
// TokenFile looks at the source's modification times and sizes at most once per
// CheckInterval and reads it again only when they changed; Reload forces a read
// (SIGHUP). A read that fails (the file is gone or unreadable) keeps the last
// good tokens and is logged; lines that do not parse are skipped and logged.
type TokenFile struct {
	// Path is the file or directory.
	Path string
	// ReadOnly loads the source once and never again (ReadOnlyTokenFile).
	ReadOnly bool
	// CheckInterval is the least time between two looks at the source;
	// zero means one second.
	CheckInterval time.Duration
	// Logger receives reload reports; nil means slog.Default().
	Logger *slog.Logger

	mu        sync.RWMutex
	tokens    map[string]Target
	signature string    // names, sizes and mtimes of the source when last read
	checked   time.Time // last look at the source
	loaded    bool
}

// Load reads the source now and reports an error if it cannot be read at all;
// the command line calls it at start so that a wrong path fails loudly.
func (f *TokenFile) Load() error {
	return f.reload(true)
}

// Reload reads the source again if it changed since the last read (or always,
// when force is set). It is safe to call from any goroutine.
func (f *TokenFile) Reload(force bool) error { return f.reload(force) }

// Resolve implements Resolver.
func (f *TokenFile) Resolve(_ context.Context, token string) (Target, error) {
	f.mu.RLock()
	stale := !f.loaded || (!f.ReadOnly && time.Since(f.checked) >= f.interval())
	f.mu.RUnlock()
	if stale {
		_ = f.reload(false) // logged inside; the last good tokens stay in force
	}
	f.mu.RLock()
	t, ok := f.tokens[token]
	f.mu.RUnlock()
	if !ok {
		return Target{}, ErrUnknownToken
	}
	return t, nil
}

// Len returns the number of tokens in force.
func (f *TokenFile) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.tokens)
}

func (f *TokenFile) interval() time.Duration {
	if f.CheckInterval > 0 {
		return f.CheckInterval
	}
	return time.Second
}

func (f *TokenFile) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

// reload reads the source when its signature changed (or when forced). Only
// one reload runs at a time; lookups keep using the old map meanwhile.
func (f *TokenFile) reload(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loaded && f.ReadOnly && !force {
		return nil
	}
	f.checked = time.Now()
	files, sig, err := sourceFiles(f.Path)
	if err != nil {
		f.logger().Error("token source unreadable; keeping the last good tokens",
			"source", f.Path, "tokens", len(f.tokens), "err", err)
		return err
	}
	if f.loaded && !force && sig == f.signature {
		return nil
	}
	tokens := make(map[string]Target, len(f.tokens))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.logger().Error("token file unreadable; keeping the last good tokens",
				"file", name, "tokens", len(f.tokens), "err", err)
			return fmt.Errorf("read token file: %w", err)
		}
		for _, e := range ParseTokens(bytes.NewReader(data), name, tokens) {
			f.logger().Warn("token file line skipped", "err", e)
		}
	}
	f.tokens, f.signature, f.loaded = tokens, sig, true
	f.logger().Info("tokens loaded", "source", f.Path, "files", len(files), "tokens", len(tokens))
	return nil
}

// sourceFiles lists the files of a token source and a signature that changes
// when any of them is added, removed, resized or modified.
func sourceFiles(path string) (files []string, signature string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("stat token source: %w", err)
	}
	var sig strings.Builder
	if !st.IsDir() {
		fmt.Fprintf(&sig, "%d/%d", st.Size(), st.ModTime().UnixNano())
		return []string{path}, sig.String(), nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, "", fmt.Errorf("list token directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed between ReadDir and Info
		}
		name := filepath.Join(path, e.Name())
		files = append(files, name)
		fmt.Fprintf(&sig, "%s/%d/%d;", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	slices.Sort(files)
	return files, sig.String(), nil
}
