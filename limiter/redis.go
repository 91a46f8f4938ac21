package limiter

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/edgegate/gateway/internal/redisconn"
)

// errBadReply means a script answered something it never returns: a
// version mismatch between gateway instances, or a foreign script loaded
// under the same SHA-1.
var errBadReply = errors.New("limiter: unexpected reply from the Redis script")

// remote is the Redis side of redis and hybrid modes.
type remote struct {
	conn   *redisconn.Conn
	script *script // redis mode: one call per decision
	sync   *script // hybrid mode: one call per key per sync
	limit  int
	window time.Duration
	// prefix is "rl:{<policy>:"; a key is prefix + client key + "}".
	prefix string
	// limitArg and windowArg are the scripts' first two arguments, the
	// window in microseconds; unitArg is the sliding log's time unit.
	limitArg, windowArg, unitArg string
	unit                         time.Duration
	// id and seq make sliding-log members unique across instances.
	id  string
	seq atomic.Uint64

	deadlines *deadlines
	health    health
	calls     sync.Pool
	stripes   [64]stripe
}

// stripe holds counters of decisions Redis took, spread by key hash so
// that cores do not fight over one cache line.
type stripe struct {
	admitted, limited, unavailable atomic.Uint64
	_                              [40]byte
}

func newRemote(p *Policy, o *Options) *remote {
	var id [8]byte
	_, _ = rand.Read(id[:])
	// The sliding log answers in units that keep a window under 2^25.
	unit := p.Window.Microseconds()>>25 + 1
	r := &remote{
		conn:      o.Redis,
		limit:     p.Limit,
		window:    p.Window,
		prefix:    "rl:{" + p.Name + ":",
		limitArg:  strconv.Itoa(p.Limit),
		windowArg: strconv.FormatInt(p.Window.Microseconds(), 10),
		unitArg:   strconv.FormatInt(unit, 10),
		unit:      time.Duration(unit) * time.Microsecond,
		id:        hex.EncodeToString(id[:]) + ":",
		deadlines: newDeadlines(o.Timeout),
		health:    health{every: o.ProbeEvery, log: o.Log, policy: p.Name},
	}
	r.calls.New = func() any { return &redisCall{buf: make([]byte, 0, 128)} }
	switch p.Algorithm {
	case TokenBucket:
		r.script, r.sync = tokenBucketScript, syncBucketScript
	case SlidingWindow:
		r.script, r.sync = slidingLogScript, syncWindowScript
	}
	return r
}

func (r *remote) stripe(h uint64) *stripe { return &r.stripes[h&63] }

func (r *remote) counts(s *Stats) {
	for i := range r.stripes {
		st := &r.stripes[i]
		s.Admitted += st.admitted.Load()
		s.Limited += st.limited.Load()
		s.Unavailable += st.unavailable.Load()
	}
	s.RedisErrors += r.health.errors.Load()
}

// key appends the Redis key of a client key to dst.
func (r *remote) key(dst, key []byte) []byte {
	return append(append(append(dst, r.prefix...), key...), '}')
}

// redisCall is the pooled memory of one script call: the key and member
// are built in buf and handed to rueidis as strings sharing it.
//
// rueidis reads those strings until the command is written. A call that
// returns with an answer, even an error reply, is done with them; a call
// abandoned at its deadline may still sit in the write queue, so its
// redisCall is left to the garbage collector instead of going back to the
// pool, where the next request would overwrite the bytes.
type redisCall struct {
	buf  []byte
	keys [1]string
	args [4]string
}

// allow runs the policy's script for key.
func (r *remote) allow(key []byte) (Decision, error) {
	client, ok := r.conn.Client()
	if !ok {
		return Decision{}, redisconn.ErrNotConnected
	}
	c := r.calls.Get().(*redisCall)
	c.buf = r.key(c.buf[:0], key)
	n := len(c.buf)
	c.keys[0] = b2s(c.buf[:n])
	c.args[0], c.args[1] = r.limitArg, r.windowArg
	args := c.args[:2]
	if r.script == slidingLogScript {
		c.buf = append(c.buf, r.id...)
		c.buf = strconv.AppendUint(c.buf, r.seq.Add(1), 36)
		c.args[2], c.args[3] = b2s(c.buf[n:]), r.unitArg
		args = c.args[:4]
	}
	v, err := r.script.lua.Exec(r.deadlines.context(), client, c.keys[:], args).ToInt64()
	if err != nil {
		if _, reply := rueidis.IsRedisErr(err); reply {
			r.calls.Put(c)
		}
		return Decision{}, err
	}
	r.calls.Put(c)
	if r.script == slidingLogScript {
		return r.decodeLog(v), nil
	}
	return r.decodeBucket(v), nil
}

// decodeBucket reads the token bucket's answer: the tokens left in
// 2^-20ths, negated less one when refused.
func (r *remote) decodeBucket(v int64) Decision {
	d := Decision{Allowed: v >= 0, Limit: r.limit}
	if !d.Allowed {
		v = -1 - v
	}
	tokens := float64(v) / (1 << 20)
	perToken := float64(r.window) / float64(r.limit)
	d.Reset = time.Duration(math.Ceil((float64(r.limit) - tokens) * perToken))
	if d.Allowed {
		d.Remaining = int(v >> 20)
	} else {
		d.RetryAfter = time.Duration(max(math.Ceil((1-tokens)*perToken), 1))
	}
	return d
}

// decodeLog reads the sliding log's answer: the remaining count, or when
// refused -1 - (retry after << 26 | reset) in r.unit.
func (r *remote) decodeLog(v int64) Decision {
	if v >= 0 {
		return Decision{Allowed: true, Limit: r.limit, Remaining: int(v), Reset: r.window}
	}
	v = -1 - v
	return Decision{
		Limit:      r.limit,
		Reset:      time.Duration(v&(1<<26-1)) * r.unit,
		RetryAfter: time.Duration(v>>26) * r.unit,
	}
}

// micros converts microseconds from a script to a duration, clamped at 0.
func micros(us int64) time.Duration {
	return time.Duration(max(us, 0)) * time.Microsecond
}

// refusal is a key Redis refused: refused until until, fully reset at
// reset (both on the local clock).
type refusal struct {
	until, reset int64
}

// allowRedis is Allow in redis mode.
//
// A key Redis refused is refused locally until the time Redis named: in
// both algorithms nothing but time gives a refused key room again (other
// instances cannot admit it either, and refusals are not recorded), so
// the shortcut is exact up to the round trip, and a client hammering past
// its limit costs Redis nothing.
func (l *Limiter) allowRedis(key []byte, h uint64, now int64) Decision {
	sh := l.refused.shard(h)
	sh.mu.Lock()
	if s := sh.peek(h); s != nil && now < s.until {
		d := Decision{Limit: l.policy.Limit, RetryAfter: time.Duration(s.until - now), Reset: time.Duration(max(s.reset, s.until) - now)}
		sh.limited++
		sh.mu.Unlock()
		return d
	}
	sh.mu.Unlock()

	r := l.remote
	if !r.health.usable() {
		return l.degrade(h, now)
	}
	d, err := r.allow(key)
	if err != nil && stale(err) {
		d, err = r.allow(key)
	}
	if err != nil {
		r.health.failed(err)
		return l.degrade(h, now)
	}
	r.health.succeeded()
	st := r.stripe(h)
	if d.Allowed {
		st.admitted.Add(1)
		return d
	}
	st.limited.Add(1)
	if d.RetryAfter > 0 {
		sh.mu.Lock()
		s, _ := sh.get(h, now)
		s.until = now + int64(d.RetryAfter)
		s.reset = now + int64(d.Reset)
		sh.mu.Unlock()
	}
	return d
}
