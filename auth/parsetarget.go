package auth

import "errors"

// ParseTarget parses a target as websockify's token stores give it
// ("host:port", or "unix_socket:PATH" for a Unix socket) with the checks
// ParseTokens applies to a token file's targets: the port is decimal 1-65535,
// the host an IP address or an ASCII host name, the last ':' separates the
// port (so "::1:5901" and "[::1]:5901" are IPv6), and a socket path is
// non-empty, at most 107 bytes, without NUL and not in the abstract
// namespace. The error names the reason, never s, which may come from a
// store keyed by the token.
func ParseTarget(s string) (Target, error) {
	t, reason := parseFileTarget(s)
	if reason != "" {
		return Target{}, errors.New(reason)
	}
	return t, nil
}

// ParseHostAndPort is ParseTarget for a host and a port given apart (a JSON
// token API's "host" and "port"); host "unix_socket" makes port the socket
// path.
func ParseHostAndPort(host, port string) (Target, error) {
	if host == unixSocketHost {
		if reason := checkUnixPath(port); reason != "" {
			return Target{}, errors.New(reason)
		}
		return Target{Network: "unix", Address: port}, nil
	}
	if lastColon(port) >= 0 {
		return Target{}, errors.New("port holds ':'")
	}
	return ParseTarget(host + ":" + port)
}
