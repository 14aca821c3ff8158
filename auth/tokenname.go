package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errBadTokenName is the reason a token cannot name a file: it is not one
// plain path element. Resolvers wrap ErrUnknownToken with it.
var errBadTokenName = fmt.Errorf("%w: not a single file name", ErrUnknownToken)

// checkTokenName reports whether token can name an entry of a directory
// without leaving it: one path element, not "." or "..", no '/', no NUL, and
// short enough that dir/token fits a socket address (maxLen bytes in all,
// 0 for no limit).
func checkTokenName(dir, token string, maxLen int) (string, error) {
	if token == "" || token == "." || token == ".." ||
		strings.ContainsAny(token, "/\x00") || filepath.Base(token) != token {
		return "", errBadTokenName
	}
	p := dir + string(filepath.Separator) + token
	if maxLen > 0 && len(p) > maxLen {
		return "", fmt.Errorf("%w: path too long", ErrUnknownToken)
	}
	return p, nil
}

// absDir makes dir absolute and checks that it is a directory, for plugins
// that look tokens up as names in it.
func absDir(plugin, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", plugin, dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", plugin, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s: not a directory", plugin, dir)
	}
	return filepath.Clean(abs), nil
}

// lstatEntry lstats path, an entry of a token directory. A missing entry is
// an unknown token; another failure (permissions, I/O) is the store's and is
// reported without the path, which holds the token.
func lstatEntry(plugin, dir, path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err == nil {
		return fi, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(dir); derr != nil {
			return nil, fmt.Errorf("%s: %w", plugin, derr)
		}
		return nil, ErrUnknownToken
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return nil, fmt.Errorf("%s %s: stat entry: %w", plugin, dir, err)
}
