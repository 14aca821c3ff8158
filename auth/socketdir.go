package auth

import (
	"context"
	"io/fs"
)

// SocketDir is websockify's UnixDomainSocketDirectory plugin: a token names
// a Unix socket in Dir, and the console is that socket.
//
// A token is looked up only when it is one plain file name (no '/', not "."
// or "..", no NUL) and the entry it names is itself a socket: lstat(2), so a
// symbolic link is unknown even when it points to a socket. websockify joins
// the token to the directory and checks the result with a string prefix
// test, which lets "sub/vm" (a subdirectory), symbolic links to sockets
// anywhere, and, where Dir's name is a prefix of a sibling's, tokens like
// "../socks-old/vm" through (0.13 and later no longer collapse "..").
//
// The socket path holds the token: Target.Address must not be logged as is.
//
// Errors: ErrUnknownToken for a name that is not a socket in Dir; another
// error, without the token, when Dir itself cannot be read (gone,
// permissions), which websockify answers as unknown. SocketDir keeps nothing
// between lookups (one lstat each), so a socket is found as soon as it is
// created and not after it is removed. It is safe for concurrent use.
type SocketDir struct {
	dir string
}

// NewSocketDir returns a SocketDir for dir, made absolute, or an error when
// dir is not a directory.
func NewSocketDir(dir string) (*SocketDir, error) {
	abs, err := absDir("UnixDomainSocketDirectory", dir)
	if err != nil {
		return nil, err
	}
	return &SocketDir{dir: abs}, nil
}

// Dir returns the absolute directory the sockets are looked up in.
func (d *SocketDir) Dir() string { return d.dir }

// Resolve implements Resolver.
func (d *SocketDir) Resolve(_ context.Context, token string) (Target, error) {
	p, err := checkTokenName(d.dir, token, maxUnixPath)
	if err != nil {
		return Target{}, err
	}
	fi, err := lstatEntry("UnixDomainSocketDirectory", d.dir, p)
	if err != nil {
		return Target{}, err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return Target{}, ErrUnknownToken
	}
	return Target{Network: "unix", Address: p, AddressHoldsToken: true}, nil
}
