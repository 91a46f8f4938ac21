package respcache

import (
	"time"

	"github.com/edgegate/gateway/internal/redisconn"
	"go.uber.org/zap"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultMaxBytes bounds the memory of all entries together.
	DefaultMaxBytes = 64 << 20

	// DefaultShards is the number of independently locked parts of the
	// cache. With 64 shards two cores contend on a lock about once in 64
	// look-ups; more shards would only shrink the largest cacheable
	// response, which is MaxBytes/Shards.
	DefaultShards = 64

	// DefaultRedisTimeout bounds one Redis look-up or store. It is far
	// above a healthy round trip (well under a millisecond on a LAN) and
	// far below any route timeout, so a sick Redis costs a miss at most
	// this much before the backend is asked.
	DefaultRedisTimeout = 50 * time.Millisecond
)

// Options configures a Cache. Options is read once by New; later changes
// have no effect.
type Options struct {
	// MaxBytes bounds the memory of all entries together; the least
	// recently used entries are evicted to stay under it. Each shard gets
	// MaxBytes/Shards, which is also the largest response the cache
	// stores. Default 64 MiB.
	MaxBytes int64

	// Shards is the number of independently locked parts, rounded up to a
	// power of two. Default 64.
	Shards int

	// MaxStale bounds how long after expiry an entry can still be served
	// stale (for stale-if-error); 0 keeps it until it is evicted or
	// replaced. Default 0.
	MaxStale time.Duration

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Redis, when not nil, is a second tier shared by every gateway
	// instance: a local miss asks Redis before the backend, and a stored
	// response is written there too. Redis errors are counted and logged,
	// never returned: the cache falls back to local-only.
	Redis *redisconn.Conn

	// RedisTimeout bounds each Redis call. Default 50ms.
	RedisTimeout time.Duration

	// Log receives Redis tier state changes (down, up again); nil logs
	// nothing.
	Log *zap.Logger
}
