package auth

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxTokenFileLine is the longest line, in bytes, a token file may have;
// longer lines are reported and skipped (websockify has no limit).
const MaxTokenFileLine = 4096

// maxUnixPath is the longest socket path connect(2) takes: sun_path is 108
// bytes on Linux, one of them the terminating NUL.
const maxUnixPath = 107

// unixSocketHost is the host part websockify reads as "the port is a Unix
// socket path" (websocketproxy.py, validate_connection).
const unixSocketHost = "unix_socket"

// ParseTokens reads websockify's token file format (TokenFile and
// ReadOnlyTokenFile in websockify/token_plugins.py, 0.10 to 0.13) from r into
// into, as websockify loads it:
//
//   - Lines end at "\n", "\r\n" or a lone "\r" (Python's universal newlines).
//   - A line is stripped of white space at both ends (Python's str.strip: the
//     Unicode spaces and U+001C-U+001F); an empty line, or one that then
//     starts with '#', is skipped. There are no trailing comments.
//   - The token ends at the one ':' that is followed by white space; a line
//     with none or several such colons is malformed. The token may hold
//     spaces and colons ("a:b: host:1" is token "a:b").
//   - The target's last ':' separates the port: "::1:5901" is host "::1",
//     port 5901, dialed as "[::1]:5901". A host that is "unix_socket" makes
//     the port a Unix socket path ("unix_socket:/run/vm1.sock").
//   - A later line for the same token wins.
//
// Deliberate differences, each either a form websockify cannot dial anyway or
// one it would dial somewhere the operator did not mean:
//
//   - A UTF-8 byte order mark at the start is skipped (websockify makes it part
//     of the first token, which then never matches).
//   - A bracketed IPv6 host ("[::1]:5901") is accepted (websockify hands the
//     brackets to getaddrinfo, which fails).
//   - Refused: an empty host (":5901", which websockify dials on its own
//     loopback: the mark of a generator script with an unset variable); a port
//     that is not decimal digits in 1-65535 (getaddrinfo takes service names,
//     a sign, and wraps 70000 to 4464); IPv4 shorthand such as "127.1" or
//     "0x7f.1" (inet_aton forms Go's dialer would send to DNS instead); a host
//     that is neither an IP address nor ASCII letters, digits, '-', '.', '_'
//     (websockify's IDNA encoding of non-ASCII names is not done: write the
//     xn-- form); an empty token; a line that is not UTF-8 (websockify fails
//     the whole file); a socket path that is empty, longer than 107 bytes,
//     holds a NUL, or starts with '@' (Go would dial the abstract namespace,
//     websockify a file named "@...").
//
// A line that does not parse is skipped and reported in errs with its file
// name and number, never its text (it holds a token). An error reading r
// ends the parse and is reported last.
func ParseTokens(r io.Reader, name string, into map[string]Target) (errs []error) {
	data, err := io.ReadAll(r)
	errs = parseTokenData(data, name, into)
	if err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", name, err))
	}
	return errs
}

// parseTokenData is ParseTokens over bytes in memory.
func parseTokenData(data []byte, name string, into map[string]Target) (errs []error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		line, data = nextLine(data)
		if len(line) > MaxTokenFileLine {
			errs = append(errs, fmt.Errorf("%s:%d: line longer than %d bytes", name, lineNo, MaxTokenFileLine))
			continue
		}
		line = bytes.TrimFunc(line, isPySpace)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		tok, target, reason := parseTokenLine(line)
		if reason != "" {
			errs = append(errs, fmt.Errorf("%s:%d: %s", name, lineNo, reason))
			continue
		}
		into[tok] = target
	}
	return errs
}

// nextLine cuts the first line off data at "\n", "\r\n" or "\r".
func nextLine(data []byte) (line, rest []byte) {
	i := bytes.IndexAny(data, "\r\n")
	if i < 0 {
		return data, nil
	}
	if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
		return data[:i], data[i+2:]
	}
	return data[:i], data[i+1:]
}

// isPySpace reports whether Python's str.isspace, and so the regular
// expression \s websockify splits with, holds for r: Go's unicode.IsSpace
// plus the information separators U+001C-U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// parseTokenLine parses one stripped, non-comment line. The reason it gives
// for a bad line never quotes the line.
func parseTokenLine(line []byte) (tok string, t Target, reason string) {
	if !utf8.Valid(line) {
		return "", Target{}, "not UTF-8"
	}
	sep := -1
	for i := 0; i+1 < len(line); i++ {
		if line[i] != ':' {
			continue
		}
		if r, _ := utf8.DecodeRune(line[i+1:]); isPySpace(r) {
			if sep >= 0 {
				return "", Target{}, `more than one ": " separator; want "token: host:port"`
			}
			sep = i
		}
	}
	if sep < 0 {
		return "", Target{}, `no ": " separator; want "token: host:port"`
	}
	if sep == 0 {
		return "", Target{}, "empty token"
	}
	t, reason = parseFileTarget(string(bytes.TrimFunc(line[sep+1:], isPySpace)))
	return string(line[:sep]), t, reason
}

// parseFileTarget parses the target of a token line: websockify's
// rsplit(':', 1), then the checks ParseTokens lists.
func parseFileTarget(s string) (Target, string) {
	i := lastColon(s)
	if i < 0 {
		return Target{}, "target has no port"
	}
	host, port := s[:i], s[i+1:]
	if host == unixSocketHost {
		if reason := checkUnixPath(port); reason != "" {
			return Target{}, reason
		}
		return Target{Network: "unix", Address: port}, ""
	}
	p, ok := parsePort(port)
	if !ok {
		return Target{}, "port must be a number 1-65535"
	}
	if reason := checkHost(&host); reason != "" {
		return Target{}, reason
	}
	return Target{Network: "tcp", Address: net.JoinHostPort(host, strconv.Itoa(p))}, ""
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}

// parsePort takes decimal digits only (leading zeros allowed) worth 1-65535.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n >= 1 && n <= 65535
}

// checkHost accepts an IP address (IPv6 with or without brackets, which it
// removes, and with an optional zone) or a plain ASCII host name.
func checkHost(host *string) string {
	h := *host
	if h == "" {
		return "empty host"
	}
	if h[0] == '[' || h[len(h)-1] == ']' {
		if len(h) < 2 || h[0] != '[' || h[len(h)-1] != ']' {
			return "bad IPv6 address"
		}
		h = h[1 : len(h)-1]
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return "bad IPv6 address"
		}
		*host = h
		return ""
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Is4() && a.Zone() == "" || a.Is6() {
			return ""
		}
	}
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			return "bad IPv6 address"
		}
	}
	if looksNumeric(h) {
		return "IPv4 address not in dotted-quad form"
	}
	if len(h) > 253 {
		return "host name longer than 253 bytes"
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "host name not ASCII letters, digits, '-', '.', '_'"
		}
	}
	return ""
}

// looksNumeric reports whether inet_aton would take h as an address: its
// last dot-separated part is decimal digits or 0x and hex digits. No DNS
// name ends in such a label (RFC 3696 section 2), so a host like this that
// is not a dotted quad is IPv4 shorthand.
func looksNumeric(h string) bool {
	label := h
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == '.' {
			label = h[i+1:]
			break
		}
	}
	if len(label) > 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		label = label[2:]
		for i := 0; i < len(label); i++ {
			if !('0' <= label[i] && label[i] <= '9' || 'a' <= label[i]|0x20 && label[i]|0x20 <= 'f') {
				return false
			}
		}
		return true
	}
	if label == "" {
		return false
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return true
}

func checkUnixPath(p string) string {
	switch {
	case p == "":
		return "empty unix socket path"
	case len(p) > maxUnixPath:
		return "unix socket path longer than 107 bytes"
	case p[0] == '@':
		return "unix socket path starts with '@' (the abstract namespace)"
	case bytes.IndexByte([]byte(p), 0) >= 0:
		return "unix socket path holds a NUL byte"
	}
	return ""
}
