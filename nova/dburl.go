package nova

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

// DatabaseURL is [database] connection, an SQLAlchemy URL, split as
// SQLAlchemy 1.4's make_url splits it (sqlalchemy/engine/url.py _parse_rfc1738_args):
//
//	dialect[+driver]://[user[:password]@][host|[ipv6]][:port][/database][?query]
//
// Only MySQL and MariaDB with the pymysql and mysqldb drivers are accepted.
type DatabaseURL struct {
	Dialect  string // "mysql" or "mariadb"
	Driver   string // "pymysql" or "mysqldb" (SQLAlchemy's default for mysql://)
	User     string // percent-decoded
	Password string // percent-decoded; a secret
	Host     string // as written, IPv6 without brackets; "" when absent
	Port     int    // 0 when absent
	Database string // as written (SQLAlchemy does not decode it)
	// Query holds the query parameters, percent- and plus-decoded, with
	// empty values dropped as Python's parse_qsl drops them.
	Query map[string]string
}

// ErrDatabaseURL is wrapped by every error ParseDatabaseURL and
// DatabaseURL.MySQLConfig return. Their messages never quote the URL or the
// password.
var ErrDatabaseURL = errors.New("invalid [database] connection")

// sqlalchemyURLRE is SQLAlchemy 1.4's URL pattern. Go's regexp picks the
// submatches a backtracking engine would, so fields split as in Python.
var sqlalchemyURLRE = regexp.MustCompile(`^(?P<name>[\w+]+)://` +
	`(?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?` +
	`(?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?` +
	`(?:/(?P<database>[^?]*))?` +
	`(?:\?(?P<query>.*))?`)

// ParseDatabaseURL parses an SQLAlchemy URL as Nova's oslo.db hands it to
// SQLAlchemy; connectionParameters ([database] connection_parameters,
// "a=1&b=2") are added to its query as oslo.db does. Non-MySQL URLs
// (postgresql://, sqlite://, ...) and other MySQL drivers are refused.
func ParseDatabaseURL(connection, connectionParameters string) (DatabaseURL, error) {
	if connection == "" {
		return DatabaseURL{}, fmt.Errorf("%w: empty (set [database] connection in nova.conf)", ErrDatabaseURL)
	}
	m := sqlalchemyURLRE.FindStringSubmatchIndex(connection)
	if m == nil {
		return DatabaseURL{}, fmt.Errorf("%w: not an SQLAlchemy URL (dialect+driver://user:password@host:port/database)", ErrDatabaseURL)
	}
	group := func(name string) string {
		i := 2 * sqlalchemyURLRE.SubexpIndex(name)
		if m[i] < 0 {
			return ""
		}
		return connection[m[i]:m[i+1]]
	}
	matched := func(name string) bool { return m[2*sqlalchemyURLRE.SubexpIndex(name)] >= 0 }
	var u DatabaseURL
	name := group("name")
	u.Dialect, u.Driver, _ = strings.Cut(name, "+")
	if u.Dialect != "mysql" && u.Dialect != "mariadb" {
		return DatabaseURL{}, fmt.Errorf("%w: dialect %q: vncrelay reads Nova's tokens from MySQL or MariaDB only", ErrDatabaseURL, u.Dialect)
	}
	if u.Driver == "" {
		u.Driver = "mysqldb"
	}
	if u.Driver != "pymysql" && u.Driver != "mysqldb" {
		return DatabaseURL{}, fmt.Errorf("%w: driver %q not supported (use mysql+pymysql://)", ErrDatabaseURL, u.Driver)
	}
	var err error
	if u.User, err = pyUnquote(group("username")); err != nil {
		return DatabaseURL{}, fmt.Errorf("%w: user name: %w", ErrDatabaseURL, err)
	}
	if u.Password, err = pyUnquote(group("password")); err != nil {
		return DatabaseURL{}, fmt.Errorf("%w: password: %w", ErrDatabaseURL, err)
	}
	u.Host = group("ipv4host") + group("ipv6host")
	if err := checkDBHost(u.Host, matched("ipv6host")); err != nil {
		return DatabaseURL{}, err
	}
	if matched("port") { // "h:/d" has an empty port, which SQLAlchemy refuses
		p := group("port")
		// Python's int(): surrounding spaces allowed; our range check.
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 65535 {
			return DatabaseURL{}, fmt.Errorf("%w: port must be 1-65535", ErrDatabaseURL)
		}
		u.Port = n
	}
	u.Database = group("database")
	u.Query = map[string]string{}
	for _, q := range []string{group("query"), connectionParameters} {
		if err := parseQSL(q, u.Query); err != nil {
			return DatabaseURL{}, err
		}
	}
	return u, nil
}

// checkDBHost refuses hosts that cannot be dialed and that a DSN could not
// carry: brackets outside an IPv6 literal, an IPv6 literal that is not one,
// spaces and control characters. SQLAlchemy takes them; the drivers fail on
// them at connect time.
func checkDBHost(host string, ipv6 bool) error {
	if ipv6 {
		addr, _, _ := strings.Cut(host, "%") // zone: fe80::1%eth0
		if ip := net.ParseIP(addr); ip == nil || !strings.Contains(addr, ":") {
			return fmt.Errorf("%w: host in brackets is not an IPv6 address", ErrDatabaseURL)
		}
		return nil
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r == '[' || r == ']' || r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: host name has brackets, spaces or control characters", ErrDatabaseURL)
	}
	return nil
}

// parseQSL is Python's urllib.parse.parse_qsl as SQLAlchemy calls it:
// "&"-separated, "+" is a space, %XX decoded, pairs without "=" or with an
// empty value dropped. A name given twice is refused: SQLAlchemy would pass
// a list, which the drivers reject.
func parseQSL(q string, into map[string]string) error {
	if q == "" {
		return nil
	}
	for _, pair := range strings.Split(q, "&") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || v == "" {
			continue
		}
		k, err1 := pyUnquote(strings.ReplaceAll(k, "+", " "))
		v, err2 := pyUnquote(strings.ReplaceAll(v, "+", " "))
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("%w: query parameter: %w", ErrDatabaseURL, err)
		}
		if _, dup := into[k]; dup {
			return fmt.Errorf("%w: query parameter %q given twice", ErrDatabaseURL, k)
		}
		into[k] = v
	}
	return nil
}

// pyUnquote is Python's urllib.parse.unquote: valid %XX sequences decoded,
// anything else kept. Python then decodes UTF-8 with replacement; a result
// that is not UTF-8 is refused here instead.
func pyUnquote(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && hexDigit(s[i+1]) && hexDigit(s[i+2]) {
			h, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b = append(b, byte(h))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	if !utf8.Valid(b) {
		return "", errors.New("not UTF-8 after percent-decoding")
	}
	return string(b), nil
}

func hexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Default timeouts put in the MySQL configuration when the URL names none.
const (
	DefaultDialTimeout  = 3 * time.Second // connect (DSN timeout)
	DefaultReadTimeout  = 5 * time.Second // each read (readTimeout)
	DefaultWriteTimeout = 5 * time.Second // each write (writeTimeout)
)

// DebianMySQLSocket is where libmysqlclient (the mysqldb driver) connects for
// host "localhost" or no host: Debian's MariaDB socket.
const DebianMySQLSocket = "/run/mysqld/mysqld.sock"

// ignoredQuery are query parameters that change nothing for vncrelay's
// read-only lookups: SQLAlchemy plugins (devstack's dbcounter), and pymysql
// and mysqldb options about types, client flags and LOAD DATA.
var ignoredQuery = []string{"plugin", "use_unicode", "binary_prefix", "client_flag", "local_infile", "autocommit"}

// MySQLConfig returns the go-sql-driver/mysql configuration for u, mapping
// what the pymysql and mysqldb drivers do with the URL:
//
//   - host and port: TCP to host:port, port 3306 by default, host
//     "localhost" when absent. With the mysqldb driver, host "localhost" or
//     none means the Unix socket DebianMySQLSocket, as libmysqlclient does.
//   - unix_socket=PATH: the Unix socket (mysqldb only when the host is
//     localhost or absent, as libmysqlclient).
//   - charset → charset (oslo.db's default utf8 when absent).
//   - connect_timeout, read_timeout, write_timeout (seconds) → timeout,
//     readTimeout, writeTimeout; DefaultDialTimeout, DefaultReadTimeout and
//     DefaultWriteTimeout otherwise.
//   - compress=1/true → compression.
//   - plugin, use_unicode, binary_prefix, client_flag, local_infile,
//     autocommit: ignored (no effect on the relay's reads).
//   - a password without a user name: refused (the driver cannot say it).
//   - ssl_* and ssl: refused, TLS to the database is not supported yet
//     (rather than connecting in clear text where Nova would not).
//   - read_default_file, read_default_group, init_command and anything else:
//     refused, naming the parameter.
//
// The configuration holds the password: never log it or its FormatDSN.
func (u DatabaseURL) MySQLConfig() (*mysql.Config, error) {
	if u.User == "" && u.Password != "" {
		// The driver's DSN cannot carry a password without a user, and
		// MySQL's anonymous account takes none: a mistake in nova.conf.
		return nil, fmt.Errorf("%w: a password without a user name", ErrDatabaseURL)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User
	cfg.Passwd = u.Password
	cfg.DBName = u.Database
	cfg.Timeout = DefaultDialTimeout
	cfg.ReadTimeout = DefaultReadTimeout
	cfg.WriteTimeout = DefaultWriteTimeout
	charset := "utf8"
	host := u.Host
	if host == "" {
		host = "localhost"
	}
	if strings.ContainsAny(host, "@/()\\ \t") {
		// No host name or address holds these; the driver's DSN would
		// read them as its own separators.
		return nil, fmt.Errorf("%w: bad host name", ErrDatabaseURL)
	}
	port := u.Port
	if port == 0 {
		port = 3306
	}
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	socket := ""
	if u.Driver == "mysqldb" && host == "localhost" {
		socket = DebianMySQLSocket
	}
	keys := make([]string, 0, len(u.Query))
	for k := range u.Query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := u.Query[k]
		switch {
		case k == "charset":
			if !isCharsetName(v) {
				// MySQL's character set names are letters, digits and '_';
				// the driver writes the value into its DSN unescaped, where a
				// '/' or '&' would be read as another part.
				return nil, fmt.Errorf("%w: charset %q is not a character set name", ErrDatabaseURL, v)
			}
			charset = v
		case k == "unix_socket":
			if u.Driver == "pymysql" || host == "localhost" {
				socket = v
			}
		case k == "connect_timeout" || k == "read_timeout" || k == "write_timeout":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w: %s must be a positive number of seconds", ErrDatabaseURL, k)
			}
			d := time.Duration(n) * time.Second
			switch k {
			case "connect_timeout":
				cfg.Timeout = d
			case "read_timeout":
				cfg.ReadTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case k == "compress":
			b, ok := parseOsloBool(v)
			if !ok {
				return nil, fmt.Errorf("%w: compress must be a boolean", ErrDatabaseURL)
			}
			if err := cfg.Apply(mysql.EnableCompression(b)); err != nil {
				return nil, fmt.Errorf("%w: compress: %w", ErrDatabaseURL, err)
			}
		case slices.Contains(ignoredQuery, k):
		case k == "ssl" || strings.HasPrefix(k, "ssl_"):
			return nil, fmt.Errorf("%w: %s: TLS to the database is %w", ErrDatabaseURL, k, ErrUnsupported)
		default:
			return nil, fmt.Errorf("%w: query parameter %q is %w", ErrDatabaseURL, k, ErrUnsupported)
		}
	}
	if socket != "" {
		if strings.ContainsAny(socket, "@()") || !strings.HasPrefix(socket, "/") {
			// The driver's DSN reads these as separators, and a relative
			// path would depend on the relay's working directory.
			return nil, fmt.Errorf("%w: unix_socket must be an absolute path without '@', '(' or ')'", ErrDatabaseURL)
		}
		cfg.Net, cfg.Addr = "unix", socket
	}
	if err := cfg.Apply(mysql.Charset(charset, "")); err != nil {
		return nil, fmt.Errorf("%w: charset: %w", ErrDatabaseURL, err)
	}
	return cfg, nil
}

// String returns the URL for logs, with the password replaced by "***" as
// SQLAlchemy's repr does.
func (u DatabaseURL) String() string {
	var b strings.Builder
	b.WriteString(u.Dialect + "+" + u.Driver + "://")
	if u.User != "" || u.Password != "" {
		b.WriteString(url.PathEscape(u.User))
		if u.Password != "" {
			b.WriteString(":***")
		}
		b.WriteByte('@')
	}
	switch {
	case strings.Contains(u.Host, ":"):
		b.WriteString("[" + u.Host + "]")
	default:
		b.WriteString(u.Host)
	}
	if u.Port != 0 {
		b.WriteString(":" + strconv.Itoa(u.Port))
	}
	if u.Database != "" {
		b.WriteString("/" + u.Database)
	}
	return b.String()
}

// isCharsetName reports whether s can be a MySQL character set name
// (utf8, utf8mb4, latin1, ...): ASCII letters, digits and '_', at most 64.
func isCharsetName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
