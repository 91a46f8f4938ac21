package respcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
	"time"

	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// remote is the Redis tier. Entries live under cache:{<hash of the key>},
// each key its own hash tag (so a Redis Cluster spreads them over every
// slot), as the encoded entry, with a PX expiry equal to the entry's
// remaining freshness: Redis holds fresh entries only, and stale copies
// for stale-if-error live in each instance's memory.
//
// Every call is bounded by the timeout; a failure counts, logs once per
// change of state, and turns into a local miss or a skipped store.
type remote struct {
	conn    *redisconn.Conn
	timeout time.Duration
	log     *zap.Logger

	hits, errors atomic.Uint64
	// down is true between a failed call and the next successful one, so
	// an outage is logged once rather than on every request.
	down atomic.Bool
}

func newRemote(o Options) *remote {
	t := &remote{conn: o.Redis, timeout: o.RedisTimeout, log: o.Log}
	if t.timeout <= 0 {
		t.timeout = DefaultRedisTimeout
	}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	return t
}

// redisKeyPrefix is the namespace of cached responses in Redis.
const redisKeyPrefix = "cache:{"

// redisKey names key's entry in Redis: 128 bits of its SHA-256 in hex.
// Keys are binary and unbounded, so they are hashed rather than written
// out; the full key is stored inside the entry and checked on read, so
// even a collision would only cost a miss.
func redisKey(key []byte) string {
	sum := sha256.Sum256(key)
	var b [len(redisKeyPrefix) + 32 + 1]byte
	n := copy(b[:], redisKeyPrefix)
	hex.Encode(b[n:], sum[:16])
	b[len(b)-1] = '}'
	return string(b[:])
}

// get returns the fresh entry Redis holds for key, or nil.
func (t *remote) get(key []byte, clock func() time.Time) *Entry {
	client, ok := t.conn.Client()
	if !ok {
		t.fail(redisconn.ErrNotConnected)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	raw, err := client.Do(ctx, client.B().Get().Key(redisKey(key)).Build()).AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			t.ok()
		} else {
			t.fail(err)
		}
		return nil
	}
	t.ok()
	// raw aliases the reply's string, which nothing modifies: the entry
	// can own it without a copy.
	e, err := decode(raw, clock)
	if err != nil || e.key != string(key) || !clock().Before(e.Expires) {
		return nil
	}
	t.hits.Add(1)
	return e
}

// set writes e to Redis for the rest of its freshness.
func (t *remote) set(e *Entry, now time.Time) {
	ttl := e.Expires.Sub(now)
	if ttl < time.Millisecond {
		return
	}
	client, ok := t.conn.Client()
	if !ok {
		t.fail(redisconn.ErrNotConnected)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	// The entry's buffer is immutable, so Redis can be given it directly.
	cmd := client.B().Set().Key(redisKey(s2bKey(e.key))).Value(rueidis.BinaryString(e.raw)).Px(ttl).Build()
	if err := client.Do(ctx, cmd).Error(); err != nil {
		t.fail(err)
		return
	}
	t.ok()
}

func (t *remote) fail(err error) {
	t.errors.Add(1)
	if t.down.CompareAndSwap(false, true) {
		t.log.Warn("response cache: redis tier failing, serving from local memory only", zap.Error(err))
	}
}

func (t *remote) ok() {
	if t.down.CompareAndSwap(true, false) {
		t.log.Info("response cache: redis tier answering again")
	}
}
