package auth

import (
	"context"
	"fmt"
	"os"
)

// HealthChecker is implemented by token stores that can tell whether they
// are able to answer lookups now, for a readiness check (the admin
// listener's /readyz). CheckHealth returns nil when the store answers, or an
// error that says what is wrong; it honours ctx's deadline. The error never
// holds a token (no token is involved) and names the store as its logs do,
// passwords left out. A store that does not implement it is taken as healthy.
type HealthChecker interface {
	CheckHealth(ctx context.Context) error
}

// CheckHealth checks r when it implements HealthChecker, and returns nil
// when it does not.
func CheckHealth(ctx context.Context, r Resolver) error {
	if h, ok := r.(HealthChecker); ok {
		return h.CheckHealth(ctx)
	}
	return nil
}

// CheckHealth implements HealthChecker: the source (file or directory) can
// be opened for reading now. It does not read the tokens: lookups keep the
// last good ones when the source fails, but a source that cannot be read is
// one operators must hear of.
func (f *TokenFile) CheckHealth(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("token source: %w", err)
	}
	_ = fh.Close()
	return nil
}

// CheckHealth implements HealthChecker for the store behind the cache.
func (c *Cache) CheckHealth(ctx context.Context) error { return CheckHealth(ctx, c.Store) }
