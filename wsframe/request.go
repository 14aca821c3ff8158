package wsframe

import (
	"bytes"
	"net/http"
)

// Request head limits used when the caller passes zero.
const (
	DefaultMaxRequestBytes   = 8 << 10
	DefaultMaxRequestHeaders = 64
)

var crlfcrlf = []byte("\r\n\r\n")

// Refusals of a request head that are values, so that scanning never allocates.
var (
	ErrHeadTooLarge = &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"}
	ErrTooManyLines = &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "too many header lines"}
	ErrMalformed    = &HTTPError{Status: http.StatusBadRequest, Reason: "malformed request"}
	ErrHTTPVersion  = &HTTPError{Status: http.StatusBadRequest, Reason: "HTTP/1.1 required"}
)

// FindRequestEnd looks for the blank line that ends an HTTP request head in b,
// starting the search at from (the length already searched, so that a head that
// arrives a byte at a time is scanned once in all). It returns the head's length
// including the blank line, or 0 if the head is not complete yet. A head longer
// than maxBytes, or with more than maxLines lines, is refused with 431 as soon
// as that is known. Zero limits mean the defaults.
func FindRequestEnd(b []byte, from, maxBytes, maxLines int) (int, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxRequestBytes
	}
	if maxLines <= 0 {
		maxLines = DefaultMaxRequestHeaders
	}
	from = max(0, from-3) // the terminator may straddle the previous end
	end := -1
	if i := bytes.Index(b[from:], crlfcrlf); i >= 0 {
		end = from + i + len(crlfcrlf)
	}
	head := b
	if end >= 0 {
		head = b[:end]
	}
	switch {
	case len(head) > maxBytes:
		return 0, ErrHeadTooLarge
	case bytes.Count(head, []byte{'\n'}) > maxLines+2: // request line and blank line
		return 0, ErrTooManyLines
	case end < 0:
		return 0, nil
	}
	return end, nil
}

// Request is what the relay reads from a request head. Its slices alias the
// head passed to ParseRequest and are valid only as long as it is.
type Request struct {
	Method []byte
	Target []byte // the request-target as sent: path and query
	Path   []byte // Target before '?'
	Query  []byte // Target after '?', without it; nil if there is no '?'
	Host   []byte
	Origin []byte
	Cookie []byte // the first Cookie header
	// ForwardedProto is the X-Forwarded-Proto header a proxy in front sets
	// ("https"); nil if absent.
	ForwardedProto []byte
	// Authorization is the first Authorization header (RFC 9110 section
	// 11.6.2), for websockify's --auth-plugin BasicHTTPAuth; nil if absent.
	Authorization []byte
	// Upgrade reports an "Upgrade: websocket" header: the request asks for a
	// WebSocket and goes to Upgrade; without it the request is plain HTTP.
	Upgrade bool
}

// ParseRequest parses a complete request head (as found by FindRequestEnd):
// the request line and the header fields the relay routes on. Validation of the
// WebSocket handshake itself is left to Upgrade. It is a byte parser written
// out by hand so that it works on the loop's buffer without copying.
func ParseRequest(head []byte) (Request, error) {
	var r Request
	line, rest, ok := bytes.Cut(head, []byte("\r\n"))
	if !ok {
		return r, ErrMalformed
	}
	method, rest1, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest1, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !isToken(method) || !validTarget(target) {
		return r, ErrMalformed
	}
	if !bytes.Equal(proto, []byte("HTTP/1.1")) && !bytes.Equal(proto, []byte("HTTP/1.0")) {
		return r, ErrHTTPVersion
	}
	r.Method, r.Target = method, target
	r.Path, r.Query, ok = bytes.Cut(target, []byte{'?'})
	if !ok {
		r.Query = nil
	}
	for len(rest) > 0 {
		line, rest, ok = bytes.Cut(rest, []byte("\r\n"))
		if !ok {
			return r, ErrMalformed
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || !isToken(name) {
			return r, ErrMalformed // also refuses obsolete line folding (a leading space)
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			if r.Host != nil {
				// RFC 9112 section 3.2: a request with more than one Host is
				// refused; the Origin policy and --host-token read it.
				return r, ErrMalformed
			}
			r.Host = value
		case bytes.EqualFold(name, []byte("Origin")):
			r.Origin = value
		case bytes.EqualFold(name, []byte("Cookie")):
			if r.Cookie == nil {
				r.Cookie = value
			}
		case bytes.EqualFold(name, []byte("X-Forwarded-Proto")):
			r.ForwardedProto = value
		case bytes.EqualFold(name, []byte("Authorization")):
			if r.Authorization == nil {
				r.Authorization = value
			}
		case bytes.EqualFold(name, []byte("Upgrade")):
			r.Upgrade = hasToken(value, "websocket")
		}
	}
	return r, nil
}

// isToken reports whether b is an RFC 9110 token (method and field names).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// validTarget refuses control characters and spaces in the request-target.
func validTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds tok, ignoring case.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, []byte{','})
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(tok)) {
			return true
		}
	}
	return false
}
