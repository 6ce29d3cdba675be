package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// leases give one holder at a time the right to act on a session's runs: a Redis key
// "<holder>|<expiry in unix ms>", taken with a compare-and-set script and renewed by its
// holder. The expiry is in the value, not only in the key's TTL, because an in-process
// Redis (miniredis, the embedded fallback) does not expire keys by itself. When Redis
// restarts without its data, the holder's next renewal takes the lease again. Schedulers
// on several hosts need roughly synchronised clocks (NTP), well within LeaseTTL.
type leases struct {
	rdb    redis.UniversalClient
	prefix string
}

// takeScript takes the lease when it is free, expired or already ours, and extends it.
var takeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local h, exp = string.match(cur, '^(.*)|(%d+)$')
  if h ~= ARGV[1] and exp and tonumber(exp) > tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. (tonumber(ARGV[3]) + tonumber(ARGV[2])), 'PX', ARGV[2])
return 1`)

var releaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local h = string.match(cur, '^(.*)|%d+$')
  if h == ARGV[1] then
    return redis.call('DEL', KEYS[1])
  end
end
return 0`)

func (l *leases) key(k string) string { return l.prefix + k }

// acquire takes the lease for holder unless someone else has it; it also renews it.
func (l *leases) acquire(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	n, err := takeScript.Run(ctx, l.rdb, []string{l.key(key)}, holder, ttl.Milliseconds(), time.Now().UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", key, err)
	}
	return n == 1, nil
}

// release gives the lease up if holder has it.
func (l *leases) release(ctx context.Context, key, holder string) error {
	return releaseScript.Run(ctx, l.rdb, []string{l.key(key)}, holder).Err()
}

// free reports whether nobody holds the lease (absent or expired).
func (l *leases) free(ctx context.Context, key string) (bool, error) {
	v, err := l.rdb.Get(ctx, l.key(key)).Result()
	if errors.Is(err, redis.Nil) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	i := strings.LastIndexByte(v, '|')
	if i < 0 {
		return true, nil
	}
	exp, err := strconv.ParseInt(v[i+1:], 10, 64)
	return err != nil || exp <= time.Now().UnixMilli(), nil
}
