package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// CheckHealth implements auth.HealthChecker: Redis answers PING within ctx's
// deadline, with the source's password and db. With a Cluster source every
// master answers PING and the cluster's state is ok (see checkCluster).
func (s *Store) CheckHealth(ctx context.Context) error {
	if c, ok := s.client.(*goredis.ClusterClient); ok {
		if err := checkCluster(ctx, c); err != nil {
			s.reloadSlots()
			return fmt.Errorf("redis %s: %w", s.src, err)
		}
		return nil
	}
	return s.Ping(ctx)
}
