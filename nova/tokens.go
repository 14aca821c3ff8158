package nova

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vncrelay/vncrelay/auth"
)

// Defaults of TokenStoreConfig.
const (
	// DefaultMaxOpenConns bounds the store's connections to the database.
	// One lookup is one indexed point query (well under a millisecond on
	// a local server), so 8 connections carry thousands of console opens
	// a second, far more than a cloud makes, while a burst of browsers, or a
	// slow database, can never hold more than 8 of the database's
	// connections (Nova's own pools take 5 plus 50 overflow per process).
	// Lookups beyond 8 wait for a free connection within their deadline.
	DefaultMaxOpenConns = 8
	// DefaultQueryTimeout bounds one lookup's database work, whatever the
	// caller's deadline.
	DefaultQueryTimeout = 3 * time.Second
	// DefaultConnMaxLifetime is used when the configuration gives no
	// connection_recycle_time (oslo.db's default is the same hour).
	DefaultConnMaxLifetime = time.Hour
	// DefaultConnMaxIdleTime closes connections idle this long.
	DefaultConnMaxIdleTime = 5 * time.Minute
)

// ErrDatabase is wrapped by Resolve's errors when the database could not
// answer in time (down, unreachable, slow, refusing the query): the store
// could not decide, so the engine answers 503 and the console is refused.
// Such errors never wrap auth.ErrUnknownToken.
var ErrDatabase = errors.New("nova database unavailable")

// ErrComputeCheck is wrapped by Resolve's errors when the PortChecker could
// not get an answer from the compute node (broker down, timeout): the token
// may be good, so it is not called unknown, but the console is refused.
var ErrComputeCheck = errors.New("compute port check failed")

// TokenStoreConfig configures a TokenStore. Connection is required; the zero
// value of every other field is a safe default.
type TokenStoreConfig struct {
	// Connection and ConnectionParameters are [database] connection and
	// connection_parameters (see ParseDatabaseURL).
	Connection           string
	ConnectionParameters string
	// Proxy says which tokens are taken (its ConsoleType) and how the relay
	// treats the console (novnc: the RFB security proxy).
	Proxy Proxy
	// Security and VeNCrypt are the novnc proxy's RFB security proxy mode
	// and its VeNCrypt TLS configuration (Config.ConsoleSecurity gives
	// both). Zero Security means auth_schemes = none; the other proxies
	// ignore both.
	Security auth.SecurityProxy
	VeNCrypt *tls.Config
	// Ports, when not nil, confirms each token's port with the compute node
	// after the database lookup, as Nova's proxy does.
	Ports PortChecker
	// QueryTimeout bounds the database work of one Resolve, within the
	// caller's deadline; 0 means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxOpenConns bounds the connections; 0 means DefaultMaxOpenConns.
	MaxOpenConns int
	// ConnMaxLifetime replaces connections older than this ([database]
	// connection_recycle_time); 0 means DefaultConnMaxLifetime.
	ConnMaxLifetime time.Duration
	// Now gives the time tokens are checked against; nil means time.Now.
	Now func() time.Time
	// Logger receives the MySQL driver's messages (broken connections it
	// drops and replaces) at debug level; nil discards them.
	Logger *slog.Logger
}

// TokenStoreConfigFrom returns the TokenStoreConfig of a loaded nova.conf.
func TokenStoreConfigFrom(c *Config, ports PortChecker) TokenStoreConfig {
	return TokenStoreConfig{
		Connection:           c.Database.Connection,
		ConnectionParameters: c.Database.ConnectionParameters,
		Proxy:                c.Proxy,
		Ports:                ports,
		ConnMaxLifetime:      time.Duration(c.Database.ConnectionRecycleTime) * time.Second,
	}
}

// TokenStore resolves Nova console tokens from the cell database's
// console_auth_tokens table, as Nova's proxy does
// (ConsoleAuthToken.validate, then _check_console_port):
//
//   - the row whose token_hash is the hex SHA-256 of the token and whose
//     expires (Unix seconds) is later than now; tokens stay valid for any
//     number of connections until they expire, as in Nova;
//   - its console_type must be the proxy's (Nova does not check this
//     itself: a serial token sent to the novnc proxy fails later, at the
//     console handshake; vncrelay refuses it at once);
//   - the instance it names must still exist (instances row with
//     deleted = 0), else the token is refused as Nova's Instance.get_by_uuid
//     refuses it;
//   - with a PortChecker, the compute node must confirm the port.
//
// Both tables are read in one query on a pool of at most MaxOpenConns
// connections, each lookup under QueryTimeout; the store needs only SELECT
// on nova.console_auth_tokens and nova.instances. Connections that break
// (database restarted) are replaced on the next lookup, so the store
// recovers without a restart. It is safe for concurrent use.
type TokenStore struct {
	db           *sql.DB
	consoleType  ConsoleType
	security     auth.SecurityProxy
	vencrypt     *tls.Config
	ports        PortChecker
	queryTimeout time.Duration
	now          func() time.Time
}

// NewTokenStore opens the store's pool. It does not connect: a database
// that is down at start-up only fails lookups until it is back (Ping tells).
func NewTokenStore(cfg TokenStoreConfig) (*TokenStore, error) {
	u, err := ParseDatabaseURL(cfg.Connection, cfg.ConnectionParameters)
	if err != nil {
		return nil, err
	}
	mc, err := u.MySQLConfig()
	if err != nil {
		return nil, err
	}
	// The query's parameters are a hex digest and an integer: nothing to
	// escape, and one round trip instead of prepare, execute, close.
	mc.InterpolateParams = true
	mc.Logger = driverLogger{cfg.Logger}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabaseURL, err)
	}
	s := &TokenStore{
		db:           sql.OpenDB(connector),
		consoleType:  cfg.Proxy.ConsoleType(),
		ports:        cfg.Ports,
		queryTimeout: cfg.QueryTimeout,
		now:          cfg.Now,
	}
	if cfg.Proxy == ProxyNoVNC {
		s.security = auth.SecurityProxyRFBNone
		if cfg.Security != auth.SecurityProxyOff {
			s.security = cfg.Security
		}
		if s.security.UsesVeNCrypt() {
			if cfg.VeNCrypt == nil {
				return nil, fmt.Errorf("nova token store: security proxy %s without a VeNCrypt TLS configuration", s.security)
			}
			s.vencrypt = cfg.VeNCrypt
		}
	}
	if s.queryTimeout <= 0 {
		s.queryTimeout = DefaultQueryTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	maxOpen := cfg.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenConns
	}
	life := cfg.ConnMaxLifetime
	if life <= 0 {
		life = DefaultConnMaxLifetime
	}
	s.db.SetMaxOpenConns(maxOpen)
	s.db.SetMaxIdleConns(maxOpen)
	s.db.SetConnMaxLifetime(life)
	s.db.SetConnMaxIdleTime(DefaultConnMaxIdleTime)
	return s, nil
}

// driverLogger passes go-sql-driver's messages (they name no password or
// token) to a slog.Logger at debug level.
type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Print(v ...any) {
	if d.l != nil {
		d.l.Debug("mysql driver: " + fmt.Sprint(v...))
	}
}

// tokenQuery reads a valid token and the live instance it names. LIMIT 1
// as SQLAlchemy's first(); token_hash is unique anyway.
const tokenQuery = `SELECT t.console_type, t.host, t.port, t.internal_access_path, t.access_url_base,
	t.instance_uuid, t.expires,
	i.id, i.host, i.node, i.project_id, i.user_id, i.vm_state, i.task_state, i.power_state,
	i.display_name, i.hostname, i.launched_on, i.availability_zone
FROM console_auth_tokens t
LEFT JOIN instances i ON i.uuid = t.instance_uuid AND i.deleted = 0
WHERE t.token_hash = ? AND t.expires > ?
LIMIT 1`

// tokenRow is one row of tokenQuery.
type tokenRow struct {
	consoleType, host  string
	port               int
	internalAccessPath sql.NullString
	accessURLBase      sql.NullString
	expires            int64
	instanceID         sql.NullInt64
	instance           InstanceInfo
}

// TokenHash is the token_hash Nova stores for a token: the hex SHA-256 of
// its UTF-8 bytes (nova.utils.get_sha256_str).
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Resolve returns where the token's console is. Errors wrap
// auth.ErrUnknownToken for a token that is unknown, expired, of another
// console type, whose instance is gone, or whose port the compute node
// denies; ErrDatabase when the database did not answer; ErrComputeCheck
// when the compute node did not. Messages never hold the token.
func (s *TokenStore) Resolve(ctx context.Context, token string) (auth.Target, error) {
	if token == "" {
		return auth.Target{}, fmt.Errorf("nova token: empty: %w", auth.ErrUnknownToken)
	}
	r, err := s.lookup(ctx, TokenHash(token))
	if err != nil {
		return auth.Target{}, err
	}
	if ConsoleType(r.consoleType) != s.consoleType {
		return auth.Target{}, fmt.Errorf("nova token: console type %q, this proxy serves %q: %w", r.consoleType, s.consoleType, auth.ErrUnknownToken)
	}
	if !r.instanceID.Valid {
		return auth.Target{}, fmt.Errorf("nova token: instance %s no longer exists: %w", r.instance.UUID, auth.ErrUnknownToken)
	}
	r.instance.ID = r.instanceID.Int64
	if s.ports != nil {
		if err := s.checkPort(ctx, r); err != nil {
			return auth.Target{}, err
		}
	}
	return auth.Target{
		Network:       "tcp",
		Address:       net.JoinHostPort(r.host, strconv.Itoa(r.port)),
		TunnelPath:    r.internalAccessPath.String,
		SecurityProxy: s.security,
		VeNCrypt:      s.vencrypt,
		Expires:       time.Unix(r.expires, 0),
		AccessScheme:  accessScheme(r.accessURLBase.String),
		InstanceUUID:  r.instance.UUID,
	}, nil
}

// lookup runs tokenQuery under the store's query timeout.
func (s *TokenStore) lookup(ctx context.Context, hash string) (tokenRow, error) {
	ctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	var r tokenRow
	in := &r.instance
	err := s.db.QueryRowContext(ctx, tokenQuery, hash, s.now().Unix()).Scan(
		&r.consoleType, &r.host, &r.port, &r.internalAccessPath, &r.accessURLBase,
		&in.UUID, &r.expires,
		&r.instanceID, &in.Host, &in.Node, &in.ProjectID, &in.UserID, &in.VMState, &in.TaskState, &in.PowerState,
		&in.DisplayName, &in.Hostname, &in.LaunchedOn, &in.AvailabilityZone)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, fmt.Errorf("nova token: not found or expired: %w", auth.ErrUnknownToken)
	case err != nil:
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return r, fmt.Errorf("%w: query console_auth_tokens: %w", ErrDatabase, err)
	}
	return r, nil
}

// checkPort asks the compute node, as Nova's _check_console_port.
func (s *TokenStore) checkPort(ctx context.Context, r tokenRow) error {
	if !r.instance.Host.Valid || r.instance.Host.String == "" {
		// Nova's RPC client raises "No compute host specified".
		return fmt.Errorf("nova token: instance %s has no compute host: %w", r.instance.UUID, auth.ErrUnknownToken)
	}
	ok, err := s.ports.ValidateConsolePort(ctx, r.instance, strconv.Itoa(r.port), r.consoleType)
	var remote *RemoteError
	switch {
	case errors.As(err, &remote) && (remote.Class == "InstanceNotFound" || remote.Class == "ConsoleTypeInvalid"):
		// The compute node answered: the instance is not its, or it has no
		// such console. That is a no, not a failure to answer.
		return fmt.Errorf("nova token: compute %s raised %s for instance %s: %w",
			r.instance.Host.String, remote.Class, r.instance.UUID, auth.ErrUnknownToken)
	case err != nil:
		return fmt.Errorf("%w: instance %s on %s: %w", ErrComputeCheck, r.instance.UUID, r.instance.Host.String, err)
	case !ok:
		return fmt.Errorf("nova token: compute %s says port %d is not the console of instance %s: %w",
			r.instance.Host.String, r.port, r.instance.UUID, auth.ErrUnknownToken)
	}
	return nil
}

// accessScheme is the scheme of access_url_base as Nova's
// verify_origin_proto reads it (Python's urlparse, lower-cased), with ws and
// wss (serial consoles) given as the http and https that a page's Origin
// carries. A missing or scheme-less base gives "" (no scheme check; Nova
// would refuse every page's Origin then).
func accessScheme(base string) string {
	i := strings.IndexByte(base, ':')
	if i <= 0 {
		return ""
	}
	scheme := strings.ToLower(base[:i])
	for j, c := range scheme {
		letter := 'a' <= c && c <= 'z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ""
		}
	}
	switch scheme {
	case "ws":
		return "http"
	case "wss":
		return "https"
	}
	return scheme
}

// Ping checks that the database answers, for a start-up message.
func (s *TokenStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: ping: %w", ErrDatabase, err)
	}
	return nil
}

// Stats returns the pool's counters (open and in-use connections, waits).
func (s *TokenStore) Stats() sql.DBStats { return s.db.Stats() }

// Close closes the pool's connections; lookups in flight fail.
func (s *TokenStore) Close() error { return s.db.Close() }
