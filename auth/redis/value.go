package redis

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vncrelay/vncrelay/auth"
)

// ParseValue reads a TokenRedis value as websockify 0.12 and later read it:
// the value, stripped of white space at both ends, is either a JSON object
// (it starts with '{') whose "host" string is "host:port", or plain text
// "host:port" (websockify 0.10 and 0.11 take only the JSON form). Either way
// the "host:port" must hold exactly one ':' (websockify splits at every
// ':'), and host "unix_socket" makes the port a Unix socket path, as in
// every websockify store. The host and port are then checked as
// auth.ParseTarget checks them.
//
// Differences: websockify returns a port it cannot dial (out of range, not
// a number) and fails later; vncrelay refuses it here. The error gives the
// reason, never the value.
func ParseValue(v []byte) (auth.Target, error) {
	if !utf8.Valid(v) {
		return auth.Target{}, errors.New("value not UTF-8")
	}
	s := strings.TrimFunc(string(v), isPySpace)
	var hostPort string
	if strings.HasPrefix(s, "{") {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &obj); err != nil {
			return auth.Target{}, errors.New("value is not a JSON object")
		}
		raw, ok := obj["host"]
		if !ok {
			return auth.Target{}, errors.New(`JSON value has no "host"`)
		}
		if err := json.Unmarshal(raw, &hostPort); err != nil {
			return auth.Target{}, errors.New(`JSON value's "host" is not a string`)
		}
	} else {
		// websockify matches \S+:\S+ at the start before splitting.
		i := strings.IndexByte(s, ':')
		if i <= 0 || i+1 == len(s) || strings.IndexFunc(s[:i], isPySpace) >= 0 || isPySpaceAt(s, i+1) {
			return auth.Target{}, errors.New("value is neither JSON nor host:port")
		}
		hostPort = s
	}
	host, port, ok := strings.Cut(hostPort, ":")
	if !ok || strings.Contains(port, ":") {
		return auth.Target{}, errors.New("target must be host:port with one ':'")
	}
	return auth.ParseHostAndPort(host, port)
}

func isPySpaceAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isPySpace(r)
}

// isPySpace is Python's str.isspace: Go's unicode.IsSpace and U+001C-U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }
