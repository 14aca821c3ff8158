package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vncrelay/vncrelay/auth"
)

// Defaults for Options' zero values.
const (
	DefaultPoolSize = 32
	// DefaultTimeout bounds a command whose context has no deadline, and
	// dialing a new connection.
	DefaultTimeout = 5 * time.Second
)

// Options tune a Store; the zero value is the defaults.
type Options struct {
	// PoolSize is the most connections to Redis at once; a lookup that finds
	// them all busy waits for one until its deadline. 0 means
	// DefaultPoolSize. With a Cluster source the bound is per node.
	PoolSize int
	// Timeout bounds dialing, and commands whose context has no deadline.
	// 0 means DefaultTimeout.
	Timeout time.Duration
}

// Store resolves tokens with GET on one Redis server, on the master a
// set of Sentinels names (Source.MasterName), or on the master of the
// key's slot in a Redis Cluster (Source.Cluster). It is safe for
// concurrent use; Close releases its connections.
type Store struct {
	src    Source
	client goredis.UniversalClient
	limit  time.Duration
}

// New returns a Store for src. It does not connect: the first lookup, or
// Ping, does.
func New(src Source, opt Options) *Store {
	if opt.PoolSize <= 0 {
		opt.PoolSize = DefaultPoolSize
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	addrs := []string{src.Addr()}
	switch {
	case src.MasterName != "":
		addrs = src.Sentinels
	case len(src.Cluster) > 0:
		addrs = src.Cluster
	}
	// With a master name the universal client is a failover client: it
	// asks the Sentinels for the master and reconnects after a failover.
	// With IsClusterMode it is a cluster client: it reads the slot map from
	// the seed nodes, keeps PoolSize connections at most to each node, and
	// follows MOVED and ASK (at most 3 redirects; one retry).
	c := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:                 addrs,
		MasterName:            src.MasterName,
		SentinelPassword:      src.SentinelPassword,
		Password:              src.Password,
		DB:                    src.DB,
		IsClusterMode:         len(src.Cluster) > 0,
		MaxRedirects:          3,
		Protocol:              2, // RESP2: every Redis websockify users run speaks it
		DisableIdentity:       true,
		ContextTimeoutEnabled: true, // commands end at the caller's deadline
		DialTimeout:           opt.Timeout,
		ReadTimeout:           opt.Timeout,
		WriteTimeout:          opt.Timeout,
		PoolSize:              opt.PoolSize,
		MaxActiveConns:        opt.PoolSize,
		PoolTimeout:           opt.Timeout,
		MaxRetries:            1,
		DialerRetries:         1, // the next lookup dials again; no backoff inside a deadline
	})
	return &Store{src: src, client: c, limit: opt.Timeout}
}

// Source returns the source the Store was made with.
func (s *Store) Source() Source { return s.src }

// Resolve implements auth.Resolver: GET of the token's key (with the
// namespace), its value read by ParseValue. A missing key is
// auth.ErrUnknownToken; Redis failing, or a value that names no console, is
// another error, which names the server and never the token or the value.
func (s *Store) Resolve(ctx context.Context, token string) (auth.Target, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.limit)
		defer cancel()
	}
	v, err := s.client.Get(ctx, s.src.key(token)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return auth.Target{}, auth.ErrUnknownToken
	}
	if err != nil {
		s.reloadSlots()
		return auth.Target{}, fmt.Errorf("redis GET at %s: %w", s.src.Addr(), err)
	}
	t, err := ParseValue(v)
	if err != nil {
		return auth.Target{}, fmt.Errorf("redis value at %s: %w", s.src.Addr(), err)
	}
	return t, nil
}

// Ping checks that Redis answers and takes the password and db: the command
// line calls it at start to report a wrong source early.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis PING %s: %w", s.src, err)
	}
	return nil
}

// RouteLogs sends go-redis's own log lines (pool and dial failures; they
// name the server, never a key) to log at level Warn instead of stderr. It
// sets go-redis's process-wide logger: call it once, at start.
func RouteLogs(log *slog.Logger) { goredis.SetLogger(slogPrintf{log}) }

// slogPrintf adapts an *slog.Logger to go-redis's Printf logger.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// Close closes the connections.
func (s *Store) Close() error { return s.client.Close() }
