package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Target is where a console's bytes go.
type Target struct {
	Network string // "tcp" or "unix"
	Address string // host:port (IPv6 hosts in brackets) or a socket path
}

func (t Target) String() string {
	if t.Network == "unix" {
		return "unix:" + t.Address
	}
	return t.Address
}

// ParseHostPort parses "host:port" into a TCP target. IPv6 hosts must be in
// brackets ("[::1]:5900"); the port must be 1-65535.
func ParseHostPort(s string) (Target, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return Target{}, fmt.Errorf("target %q: port must be 1-65535", s)
	}
	if host == "" {
		return Target{}, fmt.Errorf("target %q: empty host", s)
	}
	return Target{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
}

// ErrUnknownToken is returned by a Resolver for a token it does not know. The
// engine answers it, and a missing token, with the same 403 body.
var ErrUnknownToken = errors.New("unknown token")

// Resolver maps a token to a Target. Resolve may block; ctx carries the
// deadline. It returns ErrUnknownToken (possibly wrapped) for a token it does
// not know, and another error when it could not decide (store unreachable).
// Implementations are safe for concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, token string) (Target, error)
}

// Static is a Resolver that sends every console to one target, whatever the
// token: websockify's fixed-target mode.
type Static struct{ Target Target }

// Resolve returns s.Target.
func (s Static) Resolve(context.Context, string) (Target, error) { return s.Target, nil }
