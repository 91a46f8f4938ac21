package limiter

import (
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/edgegate/gateway/internal/redisconn"
)

// Decision is the answer for one request.
type Decision struct {
	// Allowed is true when the request may pass.
	Allowed bool
	// Unavailable is true when the policy is fail_closed and Redis cannot
	// be reached: the gateway answers 503. Allowed is false then.
	Unavailable bool
	// Limit is the policy's limit, for RateLimit-Limit.
	Limit int
	// Remaining is how many more requests would be admitted now, for
	// RateLimit-Remaining: the global figure in redis and hybrid modes.
	Remaining int
	// Reset is how long until the quota is fully available again, for
	// RateLimit-Reset.
	Reset time.Duration
	// RetryAfter, when the request was refused, is how long until one
	// request would be admitted, for Retry-After. Zero when admitted.
	RetryAfter time.Duration
}

// Defaults of Options.
const (
	DefaultMaxKeys    = 1_000_000
	DefaultTimeout    = 50 * time.Millisecond
	DefaultProbeEvery = 250 * time.Millisecond
)

// Options are the process-wide settings a Limiter needs besides its Policy.
type Options struct {
	// Redis is the shared connection for redis and hybrid modes; nil for
	// local mode. Its client may not exist yet: the limiter treats that
	// like any other Redis failure.
	Redis *redisconn.Conn
	// MaxKeys bounds each of the limiter's in-memory tables (the buckets
	// in local mode, the fallback buckets, the refusal cache of redis
	// mode, the hybrid counters). A full table evicts a key not used
	// recently (CLOCK, see doc.go). Default 1,000,000.
	MaxKeys int
	// Timeout bounds the wait for a Redis answer in redis mode; a slower
	// answer counts as a failure. Requests that start within a quarter of
	// Timeout share one deadline, so a wait lasts between Timeout and 1.25
	// Timeout. Default 50ms. Hybrid rounds may take up to the larger of
	// Timeout and SyncInterval.
	Timeout time.Duration
	// ProbeEvery is how long redis mode stays off Redis after a failure
	// before one request tries it again. Meanwhile requests are answered
	// per FailClosed without waiting on a dead connection. Default 250ms.
	ProbeEvery time.Duration
	// Now is the clock for local decisions and the hybrid schedule.
	// Default: the process's monotonic clock. Redis-side decisions use
	// Redis TIME.
	Now func() time.Time
	// Log receives Redis failures (at most one line per 10s per limiter)
	// and recoveries. Default: nothing is logged.
	Log *zap.Logger
}

// Limiter enforces one Policy. It is safe for concurrent use.
type Limiter struct {
	policy  Policy
	hashKey maphash.Seed // random per Limiter: clients cannot aim for collisions
	// now is the injected clock and base its reading at New; nil for the
	// real clock, which reads monotonic nanoseconds, since mono.
	now  func() time.Time
	base time.Time
	mono int64
	// lease, when not nil, is the Limiter's hold on the coarse clock,
	// which it reads instead of the monotonic clock (see clock.go).
	lease *clockLease

	// local is the limiter in local mode and the fail_open fallback in
	// the others.
	local local
	// remote is the Redis side of redis and hybrid modes.
	remote *remote
	// refused caches, in redis mode, the keys Redis refused and until
	// when: more requests for them are refused without a round trip.
	refused *table[refusal]
	// hybrid holds the hybrid mode's counters and sync loop.
	hybrid *hybrid

	closeOnce sync.Once
}

// New returns a Limiter for p. Redis and hybrid modes need o.Redis; hybrid
// mode starts the sync loop that Close stops.
func New(p Policy, o Options) (*Limiter, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.Mode != Local && o.Redis == nil {
		return nil, fmt.Errorf("%w: %s mode needs Options.Redis", ErrInvalidPolicy, p.Mode)
	}
	if o.MaxKeys < 0 || o.Timeout < 0 || o.ProbeEvery < 0 {
		return nil, errors.New("limiter: negative MaxKeys, Timeout or ProbeEvery")
	}
	if p.SyncInterval == 0 {
		p.SyncInterval = DefaultSyncInterval
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ProbeEvery == 0 {
		o.ProbeEvery = DefaultProbeEvery
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	l := &Limiter{policy: p, hashKey: maphash.MakeSeed(), now: o.Now}
	switch {
	case o.Now != nil:
		l.base = o.Now()
	case p.Window >= coarseMinWindow:
		coarse.acquire()
		l.lease = &clockLease{}
		// A Limiter dropped without Close still lets the clock stop.
		runtime.AddCleanup(l, (*clockLease).release, l.lease)
		l.mono = coarse.read()
	default:
		l.mono = monotonic()
	}
	switch p.Algorithm {
	case TokenBucket:
		l.local = newBucket(p.Limit, p.Window, o.MaxKeys)
	case SlidingWindow:
		l.local = newWindow(p.Limit, p.Window, o.MaxKeys)
	}
	if p.Mode == Local {
		return l, nil
	}
	l.remote = newRemote(&l.policy, &o)
	switch p.Mode {
	case Redis:
		l.refused = newTable[refusal](o.MaxKeys, int64(p.Window))
	case Hybrid:
		l.hybrid = newHybrid(l, &o)
		go l.hybrid.run()
	}
	return l, nil
}

// Policy returns the policy l enforces, defaults filled in.
func (l *Limiter) Policy() Policy { return l.policy }

// Allow decides one request of the client identified by key (an IP
// address as text, a consumer id, a header value) and records it when
// admitted. The limiter builds the Redis key rl:{<policy>:<key>} itself;
// key is not retained. In local and hybrid modes Allow never waits on the
// network and does not allocate for a key already tracked.
func (l *Limiter) Allow(key []byte) Decision {
	h := maphash.Bytes(l.hashKey, key)
	now := l.clock()
	switch l.policy.Mode {
	case Redis:
		return l.allowRedis(key, h, now)
	case Hybrid:
		return l.hybrid.allow(key, h, now)
	}
	return l.local.allow(h, now)
}

// Sync runs one hybrid reconciliation round now, as the loop does every
// SyncInterval, and returns its error. It does nothing in other modes.
// Tests call it instead of waiting for the loop.
func (l *Limiter) Sync() error {
	if l.hybrid == nil {
		return nil
	}
	return l.hybrid.round()
}

// Close stops the hybrid sync loop after one last round, which reports
// the admissions still pending (it waits for it, up to the larger of
// Timeout and SyncInterval), and releases the coarse clock, whose
// goroutine stops with the last Limiter. It leaves the Redis connection
// open: limiters share it. Close is safe to call more than once; Allow
// keeps working after Close, without further syncs.
func (l *Limiter) Close() {
	l.closeOnce.Do(func() {
		if l.hybrid != nil {
			l.hybrid.stop()
		}
		if l.lease != nil {
			l.lease.release()
		}
	})
}

// Stats are a Limiter's counters since New, for metrics.
type Stats struct {
	// Admitted and Limited count decisions, whoever took them.
	Admitted, Limited uint64
	// Unavailable counts fail_closed refusals while Redis was unreachable.
	Unavailable uint64
	// Degraded counts the decisions (included in Admitted and Limited)
	// taken from local buckets because Redis was unreachable.
	Degraded uint64
	// RedisErrors counts failed Redis calls: errors, timeouts and calls
	// attempted before the connection existed.
	RedisErrors uint64
	// Evicted counts keys dropped from a full table to make room.
	Evicted uint64
	// Keys is the number of keys held in the limiter's tables.
	Keys int
}

// Stats returns l's counters. It takes each shard's lock in turn, so call
// it at scrape time, not per request.
func (l *Limiter) Stats() Stats {
	var s, fallback Stats
	l.local.counts(&fallback)
	if l.policy.Mode != Local {
		fallback.Degraded = fallback.Admitted + fallback.Limited
	}
	s.add(&fallback)
	if l.remote != nil {
		l.remote.counts(&s)
	}
	if l.refused != nil {
		l.refused.counts(&s)
	}
	if l.hybrid != nil {
		l.hybrid.t.counts(&s)
	}
	return s
}

// RedisErrors returns the number of failed Redis calls since New.
func (l *Limiter) RedisErrors() uint64 {
	if l.remote == nil {
		return 0
	}
	return l.remote.health.errors.Load()
}

func (s *Stats) add(o *Stats) {
	s.Admitted += o.Admitted
	s.Limited += o.Limited
	s.Unavailable += o.Unavailable
	s.Degraded += o.Degraded
	s.RedisErrors += o.RedisErrors
	s.Evicted += o.Evicted
	s.Keys += o.Keys
}

// clock returns the local time in nanoseconds since New. The real clock
// is the monotonic one, which wall-clock steps do not move; it is read
// through the coarse clock when the policy's window allows.
func (l *Limiter) clock() int64 {
	switch {
	case l.lease != nil:
		return coarse.read() - l.mono
	case l.now == nil:
		return monotonic() - l.mono
	}
	return max(int64(l.now().Sub(l.base)), 0)
}

// degrade answers while Redis cannot be reached: Unavailable when the
// policy fails closed, else the local buckets at the same limits.
func (l *Limiter) degrade(h uint64, now int64) Decision {
	if l.policy.FailClosed {
		l.remote.stripe(h).unavailable.Add(1)
		return Decision{Unavailable: true, Limit: l.policy.Limit}
	}
	return l.local.allow(h, now)
}
