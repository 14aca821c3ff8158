package nova

import "context"

// CheckHealth implements auth.HealthChecker: Nova's database answers a ping
// within ctx's deadline and the store's query timeout.
func (s *TokenStore) CheckHealth(ctx context.Context) error { return s.Ping(ctx) }
