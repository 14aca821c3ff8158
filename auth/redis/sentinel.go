package redis

import (
	"errors"
	"net"
	"net/url"
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
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		user, pw, ok := strings.Cut(hosts[:at], ":")
		if !ok || user != "" {
			return fail("credentials must be :PASSWORD@ (no user name)")
		}
		p, err := url.PathUnescape(pw)
		if err != nil {
			return fail("password: bad percent-encoding")
		}
		src.Password, hosts = p, hosts[at+1:]
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return fail("want HOST:PORT[,HOST:PORT...] before the master name")
		}
		if p, ok := decimal(port); !ok || p < 1 || p > 65535 {
			return fail("a Sentinel port must be a number 1-65535")
		}
		src.Sentinels = append(src.Sentinels, net.JoinHostPort(host, port))
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
	q, err := url.ParseQuery(query)
	if err != nil {
		return fail("bad query")
	}
	for k, v := range q {
		if len(v) != 1 {
			return fail("a query parameter given twice")
		}
		switch k {
		case "namespace":
			src.Namespace = v[0]
		case "sentinel_password":
			src.SentinelPassword = v[0]
		default:
			return fail("unknown query parameter (have namespace, sentinel_password)")
		}
	}
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
