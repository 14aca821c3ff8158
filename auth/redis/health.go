package redis

import "context"

// CheckHealth implements auth.HealthChecker: Redis answers PING within ctx's
// deadline, with the source's password and db.
func (s *Store) CheckHealth(ctx context.Context) error { return s.Ping(ctx) }
