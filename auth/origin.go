package auth

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vncrelay/vncrelay/wsframe"
)

// ErrOrigin refuses an upgrade whose Origin is not allowed.
var ErrOrigin = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "origin not allowed"}

// OriginPolicy decides which pages may open consoles, as Nova's proxy does:
// the Origin header's host must be the host the request was sent to (its
// Host header) or one of Allowed, and its scheme http or https. A request
// without an Origin header (not from a browser) passes. Allowed holds host
// names, compared without port and case. The zero policy allows only
// same-host pages; a nil *OriginPolicy checks nothing (websockify's
// behaviour).
type OriginPolicy struct {
	Allowed []string
}

// Check applies the policy to a request's Origin and Host headers.
func (p *OriginPolicy) Check(origin, host []byte) error {
	if p == nil || len(origin) == 0 {
		return nil
	}
	u, err := url.Parse(string(origin))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return ErrOrigin
	}
	oh := strings.ToLower(u.Hostname())
	if oh == strings.ToLower(hostname(string(host))) {
		return nil
	}
	if slices.ContainsFunc(p.Allowed, func(a string) bool { return strings.EqualFold(a, oh) }) {
		return nil
	}
	return ErrOrigin
}

// hostname strips the port from a Host header value.
func hostname(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return strings.Trim(host, "[]")
	}
	return strings.Trim(h, "[]")
}
