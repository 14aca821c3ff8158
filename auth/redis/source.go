package redis

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the port a source without one uses (websockify's default).
const DefaultPort = 6379

// Source is a parsed TokenRedis --token-source: one Redis server (Host,
// Port), a master found through Redis Sentinel (MasterName set), or a
// Redis Cluster (Cluster set).
type Source struct {
	Host      string // host name or IP address; "" only with MasterName
	Port      int    // 1-65535; DefaultPort when the source left it out or empty; 0 with MasterName
	DB        int    // database number, 0 or more
	Password  string // "" for none (AUTH is not sent)
	Namespace string // "" for none; else keys are Namespace + ":" + token

	// MasterName, when not "", is the Sentinel master to use: the client
	// asks Sentinels for its address and follows failovers.
	MasterName string
	// Sentinels are the Sentinels' host:port addresses (with MasterName).
	Sentinels []string
	// SentinelPassword is the Sentinels' own password; "" for none.
	SentinelPassword string

	// Cluster, when not empty, are the host:port addresses of Redis
	// Cluster seed nodes: the client reads the slot map from them and
	// sends each GET to the master of the key's slot. Host and Port are
	// then "" and 0, DB 0.
	Cluster []string
}

// ParseSource reads websockify's TokenRedis source
// "host[:port[:db[:password[:namespace]]]]" (websockify 0.13; 0.10 and 0.11
// take only "host:port", 0.12 has no namespace). Fields are separated by
// ':'; a field that starts with '"', has at least one character before the
// next '"', and ends at that '"' (followed by ':' or the end) is taken
// without its quotes and may hold ':' (a namespace "a:b", an IPv6 host
// "\"::1\"", a password with ':'). An empty port, db, password or namespace
// field means its default.
//
// Differences from websockify, which takes whatever Python's int() takes
// and connects with whatever is left: the host must not be empty, the port
// must be decimal digits in 1-65535, the db decimal digits, and control
// characters are refused anywhere (websockify's splitting treats a trailing
// newline specially). Errors quote no field (the password is one).
//
// A source starting with SentinelScheme names a Sentinel master instead
// (vncrelay's own syntax; websockify has no Sentinel support):
//
//	redis-sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB][?namespace=NS&sentinel_password=PW]
//
// and a source starting with ClusterScheme names a Redis Cluster
// (vncrelay's own syntax too):
//
//	redis-cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...][/][?namespace=NS]
func ParseSource(s string) (Source, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return Source{}, errors.New("TokenRedis source: control character")
		}
	}
	if strings.HasPrefix(s, SentinelScheme) {
		return parseSentinel(s)
	}
	if strings.HasPrefix(s, ClusterScheme) {
		return parseCluster(s)
	}
	fields := splitSource(s)
	if len(fields) > 5 {
		return Source{}, errors.New("TokenRedis source: more than 5 fields; want host[:port[:db[:password[:namespace]]]]")
	}
	fields = append(fields, make([]string, 5-len(fields))...)
	src := Source{Host: fields[0], Port: DefaultPort, Password: fields[3], Namespace: fields[4]}
	if src.Host == "" {
		return Source{}, errors.New("TokenRedis source: empty host")
	}
	if fields[1] != "" {
		p, ok := decimal(fields[1])
		if !ok || p < 1 || p > 65535 {
			return Source{}, errors.New("TokenRedis source: port must be a number 1-65535")
		}
		src.Port = p
	}
	if fields[2] != "" {
		db, ok := decimal(fields[2])
		if !ok {
			return Source{}, errors.New("TokenRedis source: db must be a number 0 or more")
		}
		src.DB = db
	}
	return src, nil
}

// splitSource splits at ':' with websockify 0.13's quoting (its
// parse_source_args): at the start of each field, a quoted run "..." of at
// least one character that ends the field is one field without its quotes.
func splitSource(s string) []string {
	var fields []string
	for {
		if len(s) > 0 && s[0] == '"' {
			if end := strings.IndexByte(s[1:], '"'); end > 0 {
				after := s[end+2:]
				if after == "" {
					return append(fields, s[1:end+1])
				}
				if after[0] == ':' {
					fields = append(fields, s[1:end+1])
					s = after[1:]
					continue
				}
			}
		}
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return append(fields, s)
		}
		fields = append(fields, s[:i])
		s = s[i+1:]
	}
}

// decimal parses ASCII digits only, at most 9 of them.
func decimal(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// Addr returns host:port for dialing; with MasterName, the master's name
// (the address is the Sentinels' to tell); with Cluster, the seed nodes.
func (s Source) Addr() string {
	if s.MasterName != "" {
		return "sentinel master " + strconv.Quote(s.MasterName)
	}
	if len(s.Cluster) > 0 {
		return "cluster " + strings.Join(s.Cluster, ",")
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// String describes the source for logs: address, db and namespace, never
// the password.
func (s Source) String() string {
	if s.MasterName != "" {
		return s.sentinelString()
	}
	if len(s.Cluster) > 0 {
		return s.clusterString()
	}
	out := fmt.Sprintf("redis://%s/%d", s.Addr(), s.DB)
	if s.Password != "" {
		out += " (password set)"
	}
	if s.Namespace != "" {
		out += " namespace " + strconv.Quote(s.Namespace)
	}
	return out
}

// key is the Redis key a token is stored under.
func (s Source) key(token string) string {
	if s.Namespace == "" {
		return token
	}
	return s.Namespace + ":" + token
}
