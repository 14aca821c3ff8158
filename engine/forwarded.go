package engine

import (
	"bytes"
	"net/netip"
)

// ForwardedHeader names the request header a trusted proxy
// (Config.TrustedProxies) puts the client's address in.
type ForwardedHeader uint8

// Forwarded headers.
const (
	// HeaderXForwardedFor: X-Forwarded-For, a comma-separated list of
	// addresses, one appended by each proxy (HAProxy's option forwardfor,
	// nginx's $proxy_add_x_forwarded_for).
	HeaderXForwardedFor ForwardedHeader = iota
	// HeaderForwarded: RFC 7239's Forwarded, one element per proxy with a
	// for= parameter (HAProxy's option forwarded).
	HeaderForwarded
)

// String returns the header's name.
func (h ForwardedHeader) String() string {
	if h == HeaderForwarded {
		return "Forwarded"
	}
	return "X-Forwarded-For"
}

// maxForwardedHops is how many of the rightmost hops of a forwarded header
// are considered; a client further left than this many trusted proxies is
// taken to be the leftmost of them.
const maxForwardedHops = 32

// forwardedClient finds the client address in a request head's forwarded
// header (every line of it, in order, as one list): walking from the right,
// the first address that is not a trusted proxy. An entry that is not an
// address ("unknown", an obfuscated name, garbage) ends the walk at the
// proxy that wrote it. ok is false when the header is absent or its
// rightmost entry is not an address.
func forwardedClient(head []byte, which ForwardedHeader, trusted prefixes) (a netip.Addr, ok bool) {
	var hops [maxForwardedHops][]byte // the rightmost hops' node text, a ring
	n := 0
	name := which.String()
	eachHeader(head, name, func(value []byte) {
		if which == HeaderForwarded {
			splitList(value, ',', func(elem []byte) {
				hops[n%maxForwardedHops] = forwardedFor(elem)
				n++
			})
			return
		}
		splitList(value, ',', func(elem []byte) {
			if elem = trimOWS(elem); len(elem) > 0 {
				hops[n%maxForwardedHops] = elem
				n++
			}
		})
	})
	for i := n - 1; i >= 0 && i >= n-maxForwardedHops; i-- {
		hop, good := parseNode(hops[i%maxForwardedHops])
		if !good {
			break
		}
		a, ok = hop, true
		if !trusted.contains(hop) {
			break
		}
	}
	return a, ok
}

// eachHeader calls fn with the value of every header line called name (case
// insensitive) of a request head, in order. The head is whole and bounded
// (MaxRequestBytes).
func eachHeader(head []byte, name string, fn func(value []byte)) {
	_, rest, _ := bytes.Cut(head, []byte("\n")) // the request line
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		k, v, found := bytes.Cut(line, []byte(":"))
		if found && len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			fn(trimOWS(v))
		}
	}
}

// splitList calls fn with each part of s between seps that are not inside
// a quoted-string (RFC 9110 section 5.6.4), empty parts included.
func splitList(s []byte, sep byte, fn func(part []byte)) {
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			fn(s[start:i])
			start = i + 1
		}
	}
	fn(s[start:])
}

// forwardedFor returns the for= value of a Forwarded element (RFC 7239
// section 4: pairs separated by ';'), unquoted, or nil when it has none or
// it cannot be unquoted.
func forwardedFor(elem []byte) []byte {
	var node []byte
	splitList(elem, ';', func(pair []byte) {
		k, v, found := bytes.Cut(trimOWS(pair), []byte("="))
		if found && bytes.EqualFold(k, []byte("for")) && node == nil {
			node = unquote(v)
		}
	})
	return node
}

// unquote returns a token as is, a quoted-string without its quotes and
// escapes, or nil if the quoted-string is cut. Node values hold no escapes
// in practice; one turns the value into a copy.
func unquote(v []byte) []byte {
	if len(v) == 0 || v[0] != '"' {
		return v
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return nil
	}
	v = v[1 : len(v)-1]
	if bytes.IndexByte(v, '\\') < 0 {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		out = append(out, v[i])
	}
	return out
}

// parseNode reads a node: an IPv4 address, an IPv6 address bare or in
// brackets, either with a port (X-Forwarded-For as some proxies write it,
// RFC 7239 section 6). Names ("unknown", "_hidden") are not addresses.
func parseNode(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > len("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") {
		return netip.Addr{}, false
	}
	s := string(b)
	if s[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 || (end+1 < len(s) && s[end+1] != ':') {
			return netip.Addr{}, false
		}
		s = s[1:end]
	} else if i := bytes.IndexByte(b, ':'); i >= 0 && bytes.Count(b, []byte(":")) == 1 {
		s = s[:i] // IPv4 with a port
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// trimOWS trims optional whitespace (spaces and tabs).
func trimOWS(b []byte) []byte {
	return bytes.Trim(b, " \t")
}
