package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// leases give one holder at a time the right to act on a session's runs: a Redis key
// SET NX with an expiry, renewed by its holder. Compare-and-set scripts keep another
// holder's lease untouched. When Redis restarts without its data, the holder's next
// renewal takes the lease again.
type leases struct {
	rdb    redis.UniversalClient
	prefix string
}

// takeScript takes the lease when it is free or already ours, and extends it.
var takeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

func (l *leases) key(k string) string { return l.prefix + k }

// acquire takes the lease for holder unless someone else has it; it also renews it.
func (l *leases) acquire(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	n, err := takeScript.Run(ctx, l.rdb, []string{l.key(key)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", key, err)
	}
	return n == 1, nil
}

// release gives the lease up if holder has it.
func (l *leases) release(ctx context.Context, key, holder string) error {
	return releaseScript.Run(ctx, l.rdb, []string{l.key(key)}, holder).Err()
}

// free reports whether nobody holds the lease.
func (l *leases) free(ctx context.Context, key string) (bool, error) {
	n, err := l.rdb.Exists(ctx, l.key(key)).Result()
	return n == 0, err
}
