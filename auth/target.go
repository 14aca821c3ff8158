package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// Target is where a console's bytes go, and what the relay must do with the
// console before it relays bytes untouched. The zero value of every field
// after Address means "nothing to do": a websockify target.
type Target struct {
	Network string // "tcp" or "unix"
	Address string // host:port (IPv6 hosts in brackets) or a socket path

	// TunnelPath, when not "", is sent to the console first as
	// "CONNECT <TunnelPath> HTTP/1.1" and the console must answer 200 before
	// anything else (Nova's internal_access_path).
	TunnelPath string
	// SecurityProxy says whether the relay negotiates the console protocol's
	// security itself (Nova's RFB security proxy) or passes bytes untouched.
	SecurityProxy SecurityProxy
	// VeNCrypt is the TLS client configuration for VeNCrypt X509None
	// towards the console: its client certificate and how the console's
	// certificate is verified. It is used when SecurityProxy accepts
	// VeNCrypt (UsesVeNCrypt) and must not be nil then; nil otherwise.
	// Targets share it: it is never modified after it is built.
	VeNCrypt *tls.Config
	// Expires is when the token that named this target stops being valid;
	// the zero time means never. The engine closes a live console at that time
	// when asked to (Nova's [consoleauth] enforce_session_timeout).
	Expires time.Time
	// AccessScheme is "http" or "https" when the console's URL was issued for
	// that scheme (Nova's access_url_base); with an Origin policy in force the
	// page's scheme must then match it. "" checks no scheme.
	AccessScheme string
	// InstanceUUID names the virtual machine, for logs; "" when unknown.
	InstanceUUID string
	// AddressHoldsToken is set when Address contains the token itself (a
	// UnixDomainSocketDirectory socket is named by it): String then masks
	// the file name, and callers keep Address out of logs and errors.
	AddressHoldsToken bool
}

// SecurityProxy is how the relay takes part in a console protocol's
// security negotiation.
type SecurityProxy uint8

// Security proxy modes.
const (
	// SecurityProxyOff relays bytes untouched from the start (websockify).
	SecurityProxyOff SecurityProxy = iota
	// SecurityProxyRFBNone negotiates RFB 3.8 with the console, choosing the
	// security type None, and offers the browser only None: Nova's novnc proxy
	// with [vnc] auth_schemes = none.
	SecurityProxyRFBNone
	// SecurityProxyRFBVeNCrypt is SecurityProxyRFBNone with VeNCrypt
	// X509None (TLS with Target.VeNCrypt) instead of None towards the
	// console: auth_schemes = vencrypt. The browser still sees None.
	SecurityProxyRFBVeNCrypt
	// SecurityProxyRFBVeNCryptOrNone takes VeNCrypt when the console offers
	// it, else None: auth_schemes = vencrypt,none.
	SecurityProxyRFBVeNCryptOrNone
	// SecurityProxyRFBNoneOrVeNCrypt takes None when the console offers it,
	// else VeNCrypt: auth_schemes = none,vencrypt.
	SecurityProxyRFBNoneOrVeNCrypt
)

// String returns the mode's name as logs and metrics show it.
func (p SecurityProxy) String() string {
	switch p {
	case SecurityProxyOff:
		return "off"
	case SecurityProxyRFBNone:
		return "rfb-none"
	case SecurityProxyRFBVeNCrypt:
		return "rfb-vencrypt"
	case SecurityProxyRFBVeNCryptOrNone:
		return "rfb-vencrypt-none"
	case SecurityProxyRFBNoneOrVeNCrypt:
		return "rfb-none-vencrypt"
	}
	return "SecurityProxy(" + strconv.Itoa(int(p)) + ")"
}

// UsesVeNCrypt reports whether the mode may choose VeNCrypt towards the
// console, and so needs Target.VeNCrypt.
func (p SecurityProxy) UsesVeNCrypt() bool {
	switch p {
	case SecurityProxyRFBVeNCrypt, SecurityProxyRFBVeNCryptOrNone, SecurityProxyRFBNoneOrVeNCrypt:
		return true
	}
	return false
}

// String returns the target as logs show it: "host:port", or "unix:" and
// the socket path, its file name masked when it is the token.
func (t Target) String() string {
	if t.Network == "unix" {
		if t.AddressHoldsToken {
			return "unix:" + filepath.Join(filepath.Dir(t.Address), Mask(filepath.Base(t.Address)))
		}
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

// ErrWouldBlock is returned by ImmediateResolver.ResolveNow when it cannot
// answer without waiting: the caller asks Resolve instead, off its event
// loop. It says nothing about the token.
var ErrWouldBlock = errors.New("token lookup would block")

// ImmediateResolver is a Resolver that can often answer at once, from
// memory: the relay asks it on its event loop, where a lookup must not wait
// for a disk, a network or a lock held by a slow check, and goes to a
// worker goroutine (Resolve) only when it cannot.
//
// ResolveNow returns what Resolve would return for token at this moment,
// or ErrWouldBlock when telling that needs waiting (a source not loaded
// yet, changed since it was read, or a cache entry gone stale). It must not
// block: at most a map read, an uncontended lock and a system call that
// does not sleep (a stat(2) of a local file). Safe for concurrent use.
type ImmediateResolver interface {
	Resolver
	ResolveNow(token string) (Target, error)
}

// Static is a Resolver that sends every console to one target, whatever the
// token: websockify's fixed-target mode.
type Static struct{ Target Target }

// Resolve returns s.Target.
func (s Static) Resolve(context.Context, string) (Target, error) { return s.Target, nil }

// ResolveNow implements ImmediateResolver: s.Target, always at once.
func (s Static) ResolveNow(string) (Target, error) { return s.Target, nil }

// TokenOptional reports that Static needs no token: websockify's
// fixed-target mode opens a console for any request, with or without one.
func (Static) TokenOptional() bool { return true }

// TokenOptional reports whether r routes requests that carry no token: a
// Resolver that implements TokenOptional() bool and returns true. The engine
// refuses a request without a token before any lookup unless it does.
func TokenOptional(r Resolver) bool {
	o, ok := r.(interface{ TokenOptional() bool })
	return ok && o.TokenOptional()
}
