package auth

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals of token extraction.
var (
	ErrTokenRepeated = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "more than one token in the query"}
	ErrBadQuery      = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "malformed token in the query string"}
	ErrBadHost       = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "malformed Host header"}
)

// TokenFrom returns the token of an upgrade request and where it came from
// ("query", "cookie" or "host"), or "" when the request carries none.
//
// With hostToken (websockify's --host-token) the Host header alone decides:
// the token is the Host value without its ":port", taken as sent (no case
// folding, as websockify: tokens are secrets compared exactly, and browsers
// send host names in lower case, so host tokens are lower case; see
// TokenFile.HostTokens), and the query and cookies are not read. An IPv6
// literal keeps its brackets: "[::1]:6080" and "[::1]" give "[::1]"
// (websockify cuts at the first ':' and gets "["). A bracket that is not
// closed, or followed by anything but ":port", is ErrBadHost.
//
// Otherwise it is the "token" query parameter (websockify and Nova), else the
// "token" cookie of the first Cookie header (Nova; noVNC sets it), read as
// tokenCookie describes. In the query, pairs are cut at '&' only and a pair
// without '=' or with an empty value is ignored, as Python's parse_qs does;
// a malformed pair of another name is ignored too. More than one non-empty
// token is ErrTokenRepeated: websockify takes the first, Nova the last, so
// which console a proxy in front would mean is ambiguous. A token whose
// percent-encoding is malformed is ErrBadQuery. Trailing newlines are
// removed from a query token, as websockify does.
func TokenFrom(r *wsframe.Request, hostToken bool) (token, source string, err error) {
	if hostToken {
		tok, err := hostTokenOf(r.Host)
		if err != nil || tok == "" {
			return "", "", err
		}
		return tok, "host", nil
	}
	tok, err := queryToken(r.Query)
	if err != nil {
		return "", "", err
	}
	if tok != "" {
		return tok, "query", nil
	}
	if tok, ok := tokenCookie(r.Cookie); ok && tok != "" {
		return tok, "cookie", nil
	}
	return "", "", nil
}

// queryToken returns the one non-empty "token" parameter of a query string.
func queryToken(q []byte) (string, error) {
	var token string
	found := false
	for len(q) > 0 {
		var pair []byte
		pair, q, _ = bytes.Cut(q, []byte{'&'})
		k, v, ok := bytes.Cut(pair, []byte{'='})
		if !ok || len(v) == 0 {
			continue
		}
		if key, err := url.QueryUnescape(string(k)); err != nil || key != "token" {
			continue
		}
		val, err := url.QueryUnescape(string(v))
		if err != nil {
			return "", ErrBadQuery
		}
		if val = strings.TrimRight(val, "\n"); val == "" {
			continue
		}
		if found {
			return "", ErrTokenRepeated
		}
		token, found = val, true
	}
	return token, nil
}

// hostTokenOf returns a Host header value without its port.
func hostTokenOf(host []byte) (string, error) {
	h := string(host)
	if !strings.HasPrefix(h, "[") {
		name, _, _ := strings.Cut(h, ":")
		return name, nil
	}
	end := strings.IndexByte(h, ']')
	if end < 0 || end+1 < len(h) && h[end+1] != ':' {
		return "", ErrBadHost
	}
	return h[:end+1], nil
}
