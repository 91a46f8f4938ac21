// Package limiter enforces the gateway's rate-limit policies: per client
// key, a token bucket or a sliding window, counted in process memory, in
// Redis, or in memory reconciled with Redis.
//
// # How a request passes
//
// The gateway builds one Limiter per policy when a configuration loads
// and calls Allow with the client's key bytes (an address, a consumer id,
// a header value) for each policy a route names. Allow hashes the key once
// with a random per-Limiter hash key and hands the hash to the policy's mode.
// The Decision it returns carries what the 429 and the RateLimit-* headers
// need; Unavailable means fail_closed with Redis unreachable, a 503.
//
// # Local mode
//
// State lives in a table split into 256 shards by hash, so cores rarely
// meet on a lock (table.go). Each shard is a mutex and one open-addressed
// array whose slots hold a key's hash, its last use and its state inline:
// a decision on a tracked key is one probe into memory the shard owns,
// with no Go map and no pointer to follow. Only the 64-bit hash is kept,
// never the key bytes: a tracked key costs no allocation per request,
// and about 48 bytes of heap (65 for the sliding window, 141 in hybrid
// mode, which keeps the Redis key), measured at one million keys by
// BenchmarkMemoryPerKey.
//
// Memory is bounded by Options.MaxKeys per table. Each shard holds its
// share of it; inserting into a full shard evicts a key chosen by CLOCK,
// the usual approximation of least recently used: a use sets the key's
// reference bit, and a hand sweeping the shard clears bits and evicts the
// first key whose bit is already clear. Keys enter with the bit clear, so
// a flood of distinct keys (random source addresses) is evicted first
// while clients that keep coming stay; an evicted client starts afresh,
// which is the price of the bound. Keys idle long enough to be as good as
// new (a window for the bucket, two for the sliding window) are dropped
// by a second cursor as new keys arrive, so no sweeper goroutine is
// needed.
//
// Decisions read a coarse clock (clock.go): one goroutine stores the
// monotonic time in an atomic word every millisecond, which costs a
// decision one load instead of a 20-40ns clock read. A token bucket
// admits exactly its rate on a clock that lags but never runs ahead, and
// every reported duration is at most a millisecond long; policies with
// windows under 100ms, and injected clocks, read their clock exactly. The
// goroutine runs while any Limiter is open.
//
// The token bucket is kept as one theoretical arrival time per key
// (GCRA): a bucket of Limit tokens refilled at Limit per Window, in eight
// bytes and integer arithmetic. The local sliding window is the classic
// two-counter approximation: the current fixed window's count plus the
// previous one's weighted by how much of it still overlaps the sliding
// window. It is exact for evenly spread traffic and never admits the
// double burst a fixed window allows at its boundary; the exact log
// would cost a timestamp per request.
//
// # Redis mode
//
// Each decision is one script call (scripts.go), EVALSHA with EVAL as the
// fallback, auto-pipelined by rueidis with every other request in flight.
// The gateway's client (redisconn) writes on one connection per node and
// waits up to 50µs after a flush while commands are in flight, so
// concurrent decisions leave in batches: flushed one by one, the write
// calls cost the gateway several times the CPU Redis spends running the
// script, on the cores Redis needs.
// Keys are rl:{<policy>:<key>}; the braces are a Redis Cluster hash tag
// and every script touches only its one key, so policies work on a
// cluster unchanged. Scripts read the time with Redis TIME, so instances
// whose clocks disagree still count the same windows.
//
// The sliding window is strict: a sorted set of admitted requests by
// time, trimmed to the window, added to only when a request is admitted.
// A client over its limit therefore recovers when its admitted requests
// age out, however hard it keeps trying. The token bucket keeps its level
// and last refill time in a hash. Both answer with a single integer, which
// rueidis reads without allocating: a redis-mode decision allocates
// nothing either.
//
// A key Redis refused is then refused locally until the RetryAfter Redis
// gave, without a round trip: nothing but time can give it room (refusals
// are not recorded, and no other instance can admit it either), so the
// shortcut is exact up to one round trip, and a client hammering past its
// limit costs Redis nothing.
//
// Each call waits at most Options.Timeout (plus a quarter, see
// deadlines). A call that fails or times out is counted (RedisErrors),
// logged at most once per ten seconds, and answered per on_error:
// fail_closed gives Unavailable; fail_open answers from local buckets at
// the policy's own limits, so each instance then enforces the whole limit
// by itself. After a connection failure the limiter stays off Redis for
// Options.ProbeEvery, then lets one request probe; success brings every
// request back to Redis. A command that meets a connection which died
// while idle (the first use after a Redis restart) is retried once on a
// fresh one.
//
// # Hybrid mode
//
// Hybrid answers every request from memory, like local mode, and every
// SyncInterval one round reports, in pipelined batches, how many requests
// each key admitted since the last round, and takes back the key's global
// remaining from Redis (syncBucketSource, syncWindowSource). Between
// results an instance admits at most a budget of
//
//	min(q, global remaining),  q = ceil(Limit * SyncInterval / Window)
//
// that is, at most the policy's rate over one interval. With N instances
// whose rounds run on time, each can be blind to at most two budgets of
// every other instance (the one in force at its report and the next), and
// an instance that has not yet heard from Redis about a key spends one
// blind budget, so the global count exceeds what the strict algorithm
// would admit by at most
//
//	2 * N * q
//
// (N=3, 100 per second, 100ms: at most 60 over, against 300 if every
// instance limited alone). TestHybridThreeProcessesWithinBound measures it
// with three processes. For the token bucket the excess is a debt the
// global bucket carries below zero and repays before anyone is admitted
// again, so over time hybrid admits exactly the bucket's rate. The price of
// the bound is burstiness: one instance admits at most q per interval, so
// a burst larger than q is spread over intervals even when the bucket is
// full. The hybrid sliding window is the two-counter approximation, kept
// in Redis with windows numbered from Redis time.
//
// A request marks its key as asked once per round, listing it in its
// shard, so a round visits the keys asked since the last one and no
// other. The hot path adds to local mode's only the key's pending count
// and budget, in the same slot.
//
// When a round fails the reports stay pending for the next one, and until
// a round succeeds requests are answered per on_error, as in redis mode.
//
// # Concurrency
//
// A Limiter is safe for concurrent use. Hybrid mode runs one goroutine,
// the sync loop, which Close stops; tests call Sync for one round instead.
// Many Limiters share one redisconn.Conn.
package limiter
