package nova

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultAMQPPort is the broker port used when a transport_url host names
// none (or port 0): oslo.messaging's rabbit driver falls back to 5672.
const DefaultAMQPPort = 5672

// TransportURL is Nova's [DEFAULT] transport_url parsed as oslo.messaging
// 14 (TransportURL.parse) and its rabbit driver (impl_rabbit, which hands each
// host to kombu as an amqp:// URL) read it:
//
//	rabbit://user:pass@host1:5672,user2:pass2@[::1]:5673/vhost?ssl=true
//
// Only the rabbit driver is supported.
type TransportURL struct {
	// Hosts are the brokers, in the order written. oslo shuffles them once
	// and then fails over round-robin; ComputeAPI does the same. A URL
	// without hosts ("rabbit://") yields one host, guest:guest@localhost:5672,
	// as the rabbit driver does.
	Hosts []BrokerHost
	// VirtualHost is the AMQP virtual host, "/" when the URL has no path or
	// an empty one (kombu's default).
	VirtualHost string
	// Options holds the query parameters: driver options that override
	// [oslo_messaging_rabbit] settings, such as ssl=true. A name given twice
	// has its values joined with "," (Python's parse_qs then ','.join);
	// parameters with an empty value are dropped, as parse_qs drops them.
	// Unknown names are kept here (oslo would refuse them when it creates
	// the transport).
	Options map[string]string
}

// BrokerHost is one broker of a transport_url.
type BrokerHost struct {
	// Username and Password are percent-decoded. Either one empty or absent
	// in the URL means "guest", kombu's default.
	Username, Password string
	// Host is a host name or an IP address, IPv6 without brackets.
	Host string
	// Port is 1-65535; DefaultAMQPPort when the URL gives none or 0.
	Port int
}

// Addr returns host:port for dialing, with IPv6 hosts in brackets.
func (h BrokerHost) Addr() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// String returns user@host:port for logs; it never includes the password.
func (h BrokerHost) String() string { return h.Username + "@" + h.Addr() }

// ErrTransportURL is wrapped by every error ParseTransportURL returns. The
// messages never quote the URL, which may hold a password.
var ErrTransportURL = errors.New("invalid transport_url")

// ParseTransportURL parses Nova's [DEFAULT] transport_url for the rabbit
// driver. It follows oslo.messaging's TransportURL.parse: the netloc is split
// at ',' into hosts; in each, credentials end at the last '@' and the user at
// the first ':' of them, both percent-decoded (invalid escapes are kept
// literally, as Python's unquote keeps them); the host may be an IPv6 literal
// in brackets; the port is decimal. The virtual host is the path without its
// first '/', decoded twice: once by oslo and once by kombu, which re-parses
// the amqp:// URL that oslo builds from it (so a '?' or '#' that oslo decoded
// also ends it there). Stricter than oslo: an empty host name, text after
// "]" other than ":port", and a port that is not 0-65535 in ASCII digits are
// errors rather than a crash or a silently ignored suffix. Another scheme than
// "rabbit" is an error naming it.
func ParseTransportURL(s string) (TransportURL, error) {
	scheme, rest, ok := splitScheme(strings.TrimSpace(s))
	if !ok {
		return TransportURL{}, fmt.Errorf("%w: no scheme (want rabbit://...)", ErrTransportURL)
	}
	if scheme != "rabbit" {
		return TransportURL{}, fmt.Errorf("%w: driver %q is not supported, only rabbit", ErrTransportURL, scheme)
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	netloc, path := "", rest
	if strings.HasPrefix(rest, "//") {
		netloc, path = rest[2:], ""
		if i := strings.IndexByte(netloc, '/'); i >= 0 {
			netloc, path = netloc[:i], netloc[i:]
		}
	}
	u := TransportURL{VirtualHost: virtualHost(path), Options: parseQuery(query)}
	for i, part := range strings.Split(netloc, ",") {
		if part == "" {
			continue
		}
		h, err := parseBrokerHost(part)
		if err != nil {
			return TransportURL{}, fmt.Errorf("%w: host %d: %w", ErrTransportURL, i+1, err)
		}
		u.Hosts = append(u.Hosts, h)
	}
	if len(u.Hosts) == 0 {
		u.Hosts = []BrokerHost{{Username: "guest", Password: "guest", Host: "localhost", Port: DefaultAMQPPort}}
	}
	return u, nil
}

// splitScheme splits "scheme:rest" as Python's urlsplit does: a letter, then
// letters, digits, '+', '-' or '.'; the scheme is lowercased.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", "", false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", "", false
		}
	}
	return strings.ToLower(s[:i]), s[i+1:], true
}

// parseBrokerHost parses one "[user[:pass]@]host[:port]" item of the netloc.
func parseBrokerHost(part string) (BrokerHost, error) {
	var h BrokerHost
	hostport := part
	if at := strings.LastIndexByte(part, '@'); at >= 0 {
		cred := part[:at]
		hostport = part[at+1:]
		user, pass, _ := strings.Cut(cred, ":")
		h.Username, h.Password = unquote(user), unquote(pass)
	}
	if h.Username == "" {
		h.Username = "guest"
	}
	if h.Password == "" {
		h.Password = "guest"
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return BrokerHost{}, errors.New("IPv6 address without ']'")
		}
		host, port = hostport[1:end], hostport[end+1:]
		if port != "" && port[0] != ':' {
			return BrokerHost{}, errors.New("text after ']' is not :port")
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.IndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if host == "" {
		return BrokerHost{}, errors.New("empty host name")
	}
	h.Host, h.Port = host, DefaultAMQPPort
	if port != "" {
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return BrokerHost{}, errors.New("port is not a number 0-65535")
		}
		if p != 0 {
			h.Port = int(p)
		}
	}
	return h, nil
}

// virtualHost resolves the URL path as oslo then kombu do: oslo decodes
// path[1:]; kombu parses "amqp://...:port/" + that again, so the first '?'
// or '#' ends it, and decodes it once more; empty means "/".
func virtualHost(path string) string {
	if !strings.HasPrefix(path, "/") {
		return "/"
	}
	v := unquote(path[1:])
	if i := strings.IndexAny(v, "?#"); i >= 0 {
		v = v[:i]
	}
	if v = unquote(v); v == "" {
		return "/"
	}
	return v
}

// parseQuery mirrors Python's parse_qs with its defaults: pairs split at
// '&', a pair without '=' or with an empty value dropped, '+' is a space,
// percent escapes decoded leniently; repeated names joined with ",".
func parseQuery(q string) map[string]string {
	opts := map[string]string{}
	for _, pair := range strings.Split(q, "&") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || v == "" {
			continue
		}
		k = unquote(strings.ReplaceAll(k, "+", " "))
		v = unquote(strings.ReplaceAll(v, "+", " "))
		if old, seen := opts[k]; seen {
			v = old + "," + v
		}
		opts[k] = v
	}
	return opts
}

// unquote decodes %XX escapes; a '%' not followed by two hex digits stays
// as it is (Python's urllib.parse.unquote).
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Bool reads a boolean driver option from the query as oslo.config's Boolean
// type does: true, 1, on, yes / false, 0, off, no, any case. set is false
// when the URL does not give the option; err names the option, not its value.
func (u TransportURL) Bool(name string) (value, set bool, err error) {
	v, ok := u.Options[name]
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "on", "yes":
		return true, true, nil
	case "false", "0", "off", "no":
		return false, true, nil
	}
	return false, true, fmt.Errorf("%w: option %s is not a boolean", ErrTransportURL, name)
}

// Int reads an integer driver option from the query (oslo.config's Integer:
// decimal, optional sign). set is false when the URL does not give it.
func (u TransportURL) Int(name string) (value int, set bool, err error) {
	v, ok := u.Options[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, true, fmt.Errorf("%w: option %s is not an integer", ErrTransportURL, name)
	}
	return n, true, nil
}

// Redacted returns the URL for logs: every password replaced by "***".
func (u TransportURL) Redacted() string {
	var b strings.Builder
	b.WriteString("rabbit://")
	for i, h := range u.Hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(h.Username)
		b.WriteString(":***@")
		b.WriteString(h.Addr())
	}
	b.WriteByte('/')
	if u.VirtualHost != "/" {
		b.WriteString(u.VirtualHost)
	}
	return b.String()
}
