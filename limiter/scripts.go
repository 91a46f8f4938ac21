package limiter

import (
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// The Lua scripts. Each touches exactly one key, hash-tagged by the
// policy and client key, so each runs on one Redis Cluster slot; each
// reads the clock with TIME inside Redis, so gateway instances with skewed
// clocks agree; each answers in integers only.
//
// Every script first checks the type of its key and starts afresh on a
// mismatch: a reload that changes a policy's algorithm or mode then
// resets its counts instead of failing with WRONGTYPE until they expire.

// bucketRefill opens both token-bucket scripts: it reads the bucket of
// KEYS[1] (limit ARGV[1] per window ARGV[2] µs, levels in token·µs) and
// refills it up to Redis's own clock, leaving key, limit, window, now,
// full, level and ts in scope. A key of another type is replaced.
const bucketRefill = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local full = limit * window
local kind = redis.call('TYPE', key).ok
if kind ~= 'hash' and kind ~= 'none' then
  redis.call('DEL', key)
end
local state = redis.call('HMGET', key, 'tokens', 'ts')
local level = tonumber(state[1])
local ts = tonumber(state[2])
if level == nil or ts == nil then
  level, ts = full, now
elseif now > ts then
  level = math.min(full, level + (now - ts) * limit)
  ts = now
end
`

// tokenBucketSource is the redis-mode token bucket: one hash {tokens, ts}
// per key. tokens is the level scaled by the window in microseconds (one
// token is window units, the bucket refills limit units per microsecond),
// so the script only ever adds, subtracts and compares integers, which
// doubles hold exactly.
//
// The answer is one integer, which rueidis reads without allocating: the
// tokens left in 2^-20ths of a token, when admitted; when refused, -1
// minus that. Remaining, Reset and RetryAfter follow from the tokens left.
//
// KEYS[1] the bucket; ARGV limit, window (µs).
const tokenBucketSource = bucketRefill + `
if level >= window then
  level = level - window
  redis.call('HSET', key, 'tokens', level, 'ts', ts)
  redis.call('PEXPIRE', key, math.ceil((full - level) / limit / 1000) + 1)
  return math.floor(level / window * 1048576)
end
return -1 - math.floor(level / window * 1048576)
`

// slidingLogSource is the redis-mode sliding window: a sorted set of the
// admitted requests scored by their time in microseconds. A request
// counts while its age is under the window and leaves when it reaches it.
// Refused requests are not logged, so a client over its limit gets room
// back as its admitted requests age out, however hard it keeps trying.
//
// The answer is one integer, which rueidis reads without allocating: the
// remaining count when admitted (Reset is then the window); when refused,
// -1 - (retry after * 2^26 + reset), both in units of ARGV[4]
// microseconds, chosen so that a window is under 2^25 units.
//
// KEYS[1] the log; ARGV limit, window (µs), a member unique to this
// request (instance id and sequence number), the unit (µs).
const slidingLogSource = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local unit = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local kind = redis.call('TYPE', key).ok
if kind ~= 'zset' and kind ~= 'none' then
  redis.call('DEL', key)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  return limit - n - 1
end
local first = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local retry = math.ceil((tonumber(first[2]) + window - now) / unit)
local reset = math.ceil((tonumber(last[2]) + window - now) / unit)
return -1 - (retry * 67108864 + reset)
`

// syncBucketSource is the hybrid token bucket, on the same hash as
// tokenBucketSource: it takes the requests an instance admitted since its
// last sync, all at once, and may leave the bucket below zero. That debt
// is the instances' joint over-admission, repaid before anyone is
// admitted again, so over time hybrid admits exactly the bucket's rate.
//
// KEYS[1] the bucket; ARGV limit, window (µs), admitted since last sync.
// Returns {remaining (negative in debt), reset µs, retry after µs}.
const syncBucketSource = bucketRefill + `
local delta = tonumber(ARGV[3])
level = level - delta * window
local reset = math.ceil((full - level) / limit)
if delta > 0 then
  redis.call('HSET', key, 'tokens', level, 'ts', ts)
  redis.call('PEXPIRE', key, math.ceil(reset / 1000) + 1)
end
local retry = 0
if level < window then
  retry = math.ceil((window - level) / limit)
end
return {math.floor(level / window), reset, retry}
`

// syncWindowSource is the hybrid sliding window: the two-counter
// approximation of the local window, kept in one hash {w, cur, prev} with
// windows numbered from Redis time, so that every instance agrees on
// where they start.
//
// KEYS[1] the counters; ARGV limit, window (µs), admitted since last sync.
// Returns {remaining (negative when over), reset µs, retry after µs}.
const syncWindowSource = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local delta = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local kind = redis.call('TYPE', key).ok
if kind ~= 'hash' and kind ~= 'none' then
  redis.call('DEL', key)
end
local idx = math.floor(now / window)
local state = redis.call('HMGET', key, 'w', 'cur', 'prev')
local w = tonumber(state[1])
local cur = tonumber(state[2]) or 0
local prev = tonumber(state[3]) or 0
if w == nil or idx > w + 1 then
  cur, prev = 0, 0
elseif idx == w + 1 then
  prev, cur = cur, 0
elseif idx < w then
  idx = w
  now = w * window
end
cur = cur + delta
if delta > 0 then
  redis.call('HSET', key, 'w', idx, 'cur', cur, 'prev', prev)
  redis.call('PEXPIRE', key, math.ceil(2 * window / 1000) + 1)
end
local left = (idx + 1) * window - now
local est = prev * left / window + cur
local reset = 0
if cur > 0 then
  reset = left + window
elseif prev > 0 then
  reset = left
end
local retry = 0
if est + 1 > limit then
  local room = limit - 1 - cur
  if room >= 0 and prev > 0 then
    retry = math.ceil(left - room * window / prev)
  else
    retry = math.ceil(left + window * (1 - (limit - 1) / cur))
  end
  retry = math.max(retry, 1)
end
return {math.floor(limit - est), reset, retry}
`

// script is a Lua script run with EVALSHA, falling back to EVAL when
// Redis does not know it yet (a restarted or new node).
type script struct {
	lua *rueidis.Lua
	src string
	sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{lua: rueidis.NewLuaScript(src), src: src, sha: hex.EncodeToString(sum[:])}
}

// The scripts, built once: rueidis hashes each at construction.
var (
	tokenBucketScript = newScript(tokenBucketSource)
	slidingLogScript  = newScript(slidingLogSource)
	syncBucketScript  = newScript(syncBucketSource)
	syncWindowScript  = newScript(syncWindowSource)
)
