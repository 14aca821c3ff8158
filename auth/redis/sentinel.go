package redis

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SentinelScheme starts a Sentinel source (see ParseSource). websockify has
// no Sentinel support; the syntax is vncrelay's.
const SentinelScheme = "redis-sentinel://"

// maxSentinels bounds the Sentinel addresses of a source.
const maxSentinels = 16

// parseSentinel reads
//
//	redis-sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB][?namespace=NS&sentinel_password=PW]
//
// PASSWORD is the master's (AUTH to the data nodes), sentinel_password the
// Sentinels' own; both, MASTER and NS are percent-decoded. Every
// HOST:PORT is a Sentinel (IPv6 hosts in brackets); the client asks them
// for MASTER's address and follows failovers. Errors quote nothing.
func parseSentinel(s string) (Source, error) {
	fail := func(what string) (Source, error) { return Source{}, errors.New("TokenRedis Sentinel source: " + what) }
	rest := strings.TrimPrefix(s, SentinelScheme)
	rest, query, _ := strings.Cut(rest, "?")
	hosts, path, _ := strings.Cut(rest, "/")
	var src Source
	var msg string
	if src.Password, src.Sentinels, msg = parseNodes(hosts, "a Sentinel", " before the master name"); msg != "" {
		return fail(msg)
	}
	if len(src.Sentinels) > maxSentinels {
		return fail("more than 16 Sentinels")
	}
	master, db, hasDB := strings.Cut(path, "/")
	m, err := url.PathUnescape(master)
	if err != nil || m == "" {
		return fail("want /MASTER after the Sentinels")
	}
	src.MasterName = m
	if hasDB {
		n, ok := decimal(db)
		if !ok {
			return fail("db must be a number 0 or more")
		}
		src.DB = n
	}
	q, msg := parseParams(query, "namespace", "sentinel_password")
	if msg != "" {
		return fail(msg)
	}
	src.Namespace, src.SentinelPassword = q["namespace"], q["sentinel_password"]
	return src, nil
}

// sentinelString describes a Sentinel source for logs, passwords left out.
func (s Source) sentinelString() string {
	out := SentinelScheme + strings.Join(s.Sentinels, ",") + "/" + url.PathEscape(s.MasterName) + "/" + strconv.Itoa(s.DB)
	if s.Password != "" {
		out += " (password set)"
	}
	if s.SentinelPassword != "" {
		out += " (sentinel password set)"
	}
	if s.Namespace != "" {
		out += " namespace " + strconv.Quote(s.Namespace)
	}
	return out
}

// parseParams reads the query of a Sentinel or Cluster source: each of
// names at most once, no other name. msg is "" or what is wrong, quoting
// nothing from query.
func parseParams(query string, names ...string) (params map[string]string, msg string) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, "bad query"
	}
	params = make(map[string]string, len(q))
	for k, v := range q {
		if len(v) != 1 {
			return nil, "a query parameter given twice"
		}
		if !slices.Contains(names, k) {
			return nil, "unknown query parameter (have " + strings.Join(names, ", ") + ")"
		}
		params[k] = v[0]
	}
	return params, ""
}

// parseNodes reads the ":PASSWORD@HOST:PORT[,HOST:PORT...]" part the
// Sentinel and Cluster sources share; noun names one node in the messages
// ("a Sentinel"), where says what may follow the list. msg is "" or what is
// wrong, quoting nothing from s.
func parseNodes(s, noun, where string) (password string, nodes []string, msg string) {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		user, pw, ok := strings.Cut(s[:at], ":")
		if !ok || user != "" {
			return "", nil, "credentials must be :PASSWORD@ (no user name)"
		}
		p, err := url.PathUnescape(pw)
		if err != nil {
			return "", nil, "password: bad percent-encoding"
		}
		password, s = p, s[at+1:]
	}
	for _, h := range strings.Split(s, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return "", nil, "want HOST:PORT[,HOST:PORT...]" + where
		}
		if p, ok := decimal(port); !ok || p < 1 || p > 65535 {
			return "", nil, noun + "'s port must be a number 1-65535"
		}
		nodes = append(nodes, net.JoinHostPort(host, port))
	}
	return password, nodes, ""
}
