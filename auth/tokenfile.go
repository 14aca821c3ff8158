package auth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

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
		for _, e := range parseTokenData(data, name, tokens) {
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
