package respcache

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// Outcome says where the response Do wrote came from.
type Outcome uint8

// The outcomes of Do.
const (
	// Miss: this caller's fill ran and resp is the backend's response.
	Miss Outcome = iota
	// Hit: a fresh entry in local memory was written to resp.
	Hit
	// RemoteHit: a fresh entry from the Redis tier was written to resp
	// (and is now in local memory too).
	RemoteHit
	// Shared: this caller waited for a concurrent caller's fill of the
	// same key and received a copy of its response, or its error.
	Shared
)

// String returns the outcome as a metrics label.
func (o Outcome) String() string {
	switch o {
	case Hit:
		return "hit"
	case RemoteHit:
		return "remote_hit"
	case Shared:
		return "shared"
	default:
		return "miss"
	}
}

// ErrFillPanicked is the error given to callers waiting on a fill that
// panicked; the panic itself goes on up the filling caller's stack.
var ErrFillPanicked = errors.New("respcache: the shared backend fetch panicked")

// call is one fill in flight, which concurrent misses of its key wait for.
// Its fields are written before done is closed and only read after.
type call struct {
	done  chan struct{}
	entry *Entry // the response to copy to waiters; nil if personal
	label []byte // X-Cache for waiters: MISS, or HIT after a Redis hit
	err   error
}

// Do writes the response for key into resp: from local memory when a
// fresh entry is there (0 allocations), otherwise from Redis when the tier
// is configured and holds a fresh one, otherwise by calling fill, which
// must write the backend's response into the resp it is given (Do's own)
// or return an error. Concurrent calls that miss on the same key are
// collapsed: one of them looks in Redis and fills, the others wait and
// receive a copy of its response (or its error), so the backend sees one
// request. A response that may not reach other clients (see Set) is not
// copied: each waiter then calls its own fill.
//
// After a fill Do stores the response locally and in Redis as Set would,
// with r's TTL and vary rules, and marks it X-Cache: MISS; entries from
// memory or Redis are written as by Entry.WriteTo, with X-Cache: HIT.
// Waiters get X-Cache: MISS (or HIT after a Redis hit) and Age 0.
//
// Do returns fill's error unchanged, for the caller to map to a status,
// with resp in whatever state fill left it. Do does not serve stale
// entries by itself: a caller that wants stale-if-error calls Get after a
// failed Do and writes the entry, which says X-Cache: STALE, instead of
// the error. Redis failures never reach the caller: they count in
// Stats.RedisErrors and the fill runs as if Redis had missed.
//
// Do is meant for GET: a response whose body was skipped (resp.SkipBody,
// as for HEAD) is never stored or shared, and a HEAD can be answered from
// a GET's entry with Get.
func (c *Cache) Do(key []byte, r *Rule, resp *fasthttp.Response, fill func(resp *fasthttp.Response) error) (Outcome, error) {
	s := c.shard(key)
	now := c.now()
	s.mu.Lock()
	if e, fresh := c.lookup(s, key, now); fresh {
		s.mu.Unlock()
		e.writeTo(resp, now, xCacheHit)
		return Hit, nil
	}
	if cl := s.calls[b2s(key)]; cl != nil {
		s.mu.Unlock()
		return c.wait(cl, key, r, resp, fill)
	}
	cl := &call{done: make(chan struct{}), label: xCacheMiss}
	k := string(key)
	s.calls[k] = cl
	s.mu.Unlock()
	return c.lead(s, k, cl, r, resp, fill)
}

// lead runs the fetch for a key on behalf of every caller that arrives
// while it runs.
func (c *Cache) lead(s *shard, k string, cl *call, r *Rule, resp *fasthttp.Response, fill func(*fasthttp.Response) error) (Outcome, error) {
	key := s2bKey(k)
	released := false
	defer func() {
		// Only a panic in Redis handling or in fill gets here unreleased:
		// let the waiters go before the panic unwinds further.
		if !released {
			cl.err = ErrFillPanicked
			c.release(s, k, cl, nil)
		}
	}()

	if c.remote != nil {
		if e := c.remote.get(key, c.now); e != nil {
			cl.entry, cl.label = e, xCacheHit
			c.release(s, k, cl, e)
			released = true
			e.writeTo(resp, c.now(), xCacheHit)
			return RemoteHit, nil
		}
	}

	c.fills.Add(1)
	if err := fill(resp); err != nil {
		cl.err = err
		c.release(s, k, cl, nil)
		released = true
		return Miss, err
	}
	now := c.now()
	e, v := snapshot(key, resp, r, now, c.now)
	if v != personal {
		cl.entry = e
	}
	var store *Entry
	if v == storable {
		store = e
	}
	stored := c.release(s, k, cl, store)
	released = true
	resp.Header.SetBytesKV(strXCache, xCacheMiss)
	c.afterStore(e, stored, now)
	return Miss, nil
}

// release stores e (when not nil), retires the call and wakes its
// waiters. Storing and retiring happen under one lock, so a caller
// arriving meanwhile finds either the call to wait for or the entry, and
// never starts a second fetch.
func (c *Cache) release(s *shard, k string, cl *call, e *Entry) (stored bool) {
	s.mu.Lock()
	if e != nil {
		stored = s.insertLocked(e)
	}
	delete(s.calls, k)
	s.mu.Unlock()
	close(cl.done)
	return stored
}

// wait is a collapsed caller's side of a fetch.
func (c *Cache) wait(cl *call, key []byte, r *Rule, resp *fasthttp.Response, fill func(*fasthttp.Response) error) (Outcome, error) {
	<-cl.done
	switch {
	case cl.err != nil:
		c.shared.Add(1)
		return Shared, cl.err
	case cl.entry != nil:
		c.shared.Add(1)
		cl.entry.writeTo(resp, cl.entry.Stored, cl.label)
		return Shared, nil
	}
	// The response was for the leader's client only; fetch our own. It is
	// not collapsed again: a backend that answers this key personally
	// will most likely do so every time.
	c.fills.Add(1)
	if err := fill(resp); err != nil {
		return Miss, err
	}
	now := c.now()
	e, v := snapshot(key, resp, r, now, c.now)
	stored := v == storable && c.insert(e)
	resp.Header.SetBytesKV(strXCache, xCacheMiss)
	c.afterStore(e, stored, now)
	return Miss, nil
}

// afterStore writes a stored entry through to Redis, or counts a refusal.
func (c *Cache) afterStore(e *Entry, stored bool, now time.Time) {
	if !stored {
		c.refused.Add(1)
		return
	}
	if c.remote != nil {
		c.remote.set(e, now)
	}
}
