package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// maxTokenNameFile is the most bytes TokenFileName reads of a file; a
// longer file is not a target.
const maxTokenNameFile = MaxTokenFileLine

// TokenFileName is websockify's TokenFileName plugin (0.12 and later): the
// token is the name of a file in Dir, and the file's text, stripped of white
// space at both ends, is the target "host:port" (or "unix_socket:PATH").
//
// Names follow SocketDir's rules: one plain file name, and the entry must be
// a regular file itself (lstat: a symbolic link is unknown). websockify
// takes the last element of whatever path the token is ("x/../vm1" opens
// "vm1") and follows symbolic links.
//
// The target is read as a TokenFile target (ParseTokens): websockify splits
// the text at every ':' and needs exactly two parts, so vncrelay also reads
// "::1:5901" and "[::1]:5901", and refuses what ParseTokens refuses.
//
// Errors: ErrUnknownToken for a name that is not a regular file in Dir;
// another error (the engine's 503), without the token, for a file that
// cannot be read, is longer than 4096 bytes, or does not hold a target (an
// operator's mistake, logged; websockify drops the connection). Nothing is
// kept between lookups: each costs an lstat, an open and a read. It is safe
// for concurrent use.
type TokenFileName struct {
	dir string
}

// NewTokenFileName returns a TokenFileName for dir, made absolute, or an
// error when dir is not a directory (websockify refuses it at start too).
func NewTokenFileName(dir string) (*TokenFileName, error) {
	abs, err := absDir("TokenFileName", dir)
	if err != nil {
		return nil, err
	}
	return &TokenFileName{dir: abs}, nil
}

// Resolve implements Resolver.
func (f *TokenFileName) Resolve(_ context.Context, token string) (Target, error) {
	p, err := checkTokenName(f.dir, token, 0)
	if err != nil {
		return Target{}, err
	}
	fi, err := lstatEntry("TokenFileName", f.dir, p)
	if err != nil {
		return Target{}, err
	}
	if !fi.Mode().IsRegular() {
		return Target{}, ErrUnknownToken
	}
	fh, err := openNoBlock(p)
	if err != nil {
		return Target{}, fmt.Errorf("TokenFileName %s: open entry: %w", f.dir, unwrapPath(err))
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil || !os.SameFile(fi, st) {
		return Target{}, fmt.Errorf("TokenFileName %s: entry replaced while opened", f.dir)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxTokenNameFile+1))
	if err != nil {
		return Target{}, fmt.Errorf("TokenFileName %s: read entry: %w", f.dir, unwrapPath(err))
	}
	if len(data) > maxTokenNameFile {
		return Target{}, fmt.Errorf("TokenFileName %s: entry longer than %d bytes", f.dir, maxTokenNameFile)
	}
	t, reason := parseNamedTarget(data)
	if reason != "" {
		return Target{}, fmt.Errorf("TokenFileName %s: entry does not hold a target: %s", f.dir, reason)
	}
	return t, nil
}

// parseNamedTarget reads a TokenFileName file's text as a target.
func parseNamedTarget(data []byte) (Target, string) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	s := bytes.TrimFunc(data, isPySpace)
	if bytes.ContainsAny(s, "\r\n") {
		return Target{}, "more than one line"
	}
	if !utf8.Valid(s) {
		return Target{}, "not UTF-8"
	}
	return parseFileTarget(string(s))
}

// unwrapPath drops the path from a *fs.PathError: it holds the token.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
