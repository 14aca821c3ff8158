package auth

import "bytes"

// tokenCookie finds the "token" cookie in a Cookie header value the way Nova's
// proxy does (nova/console/websocketproxy.py, since bug 1496932): the header
// is cut at every ';', each part is parsed on its own, and a part that does
// not parse is skipped, so a malformed cookie of another site or page cannot
// hide the token. Of several well-formed "token" cookies the last one wins,
// as in Nova, even when its value is empty; ok reports that there was one.
//
// A part is NAME=VALUE with optional spaces or tabs around both (RFC 6265
// section 5.2 trims them; Python's SimpleCookie allows them). The name is
// compared exactly ("Token" is another cookie). The value is either
// unquoted, with no space, tab, '"', '\\' or control byte, or enclosed in
// one pair of double quotes, which are removed, with no '"', '\\' or control
// byte inside (spaces allowed). Bytes from 0x80 up pass through unchanged.
//
// Deliberate differences from Nova, each about input no browser sends:
// Nova decodes backslash escapes inside quotes ("a\"b", "\101"); here such a
// value is malformed, never guessed at. Nova also splits a part at white
// space ("x=1 token=2" sets token); here that part is the cookie "x" with a
// malformed value, and is skipped.
//
// The standard library has no parser to use instead: http.ParseCookie
// fails the whole header on one bad part (the bug), and Request.Cookies,
// which skips bad parts, keeps the spaces after '=' and then refuses a
// quoted value that follows them.
func tokenCookie(h []byte) (value string, ok bool) {
	for len(h) > 0 {
		var part []byte
		part, h, _ = bytes.Cut(h, []byte{';'})
		name, val, found := bytes.Cut(part, []byte{'='})
		if !found || string(trimOWS(name)) != "token" {
			continue
		}
		if v, good := cookieValue(trimOWS(val)); good {
			value, ok = v, true
		}
	}
	return value, ok
}

// cookieValue checks a trimmed cookie value and removes its quotes.
func cookieValue(v []byte) (string, bool) {
	quoted := len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"'
	if quoted {
		v = v[1 : len(v)-1]
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == ' ' && !quoted {
			return "", false
		}
	}
	return string(v), true
}

// trimOWS removes the spaces and tabs HTTP allows around a value.
func trimOWS(b []byte) []byte {
	return bytes.Trim(b, " \t")
}
