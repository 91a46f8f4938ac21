package respcache

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Cache is a sharded, byte-bounded LRU of responses with an optional Redis
// tier. It is safe for concurrent use and runs no goroutines, so it needs
// no Close; a configuration reload may build a new Cache and drop the old
// one.
type Cache struct {
	shards   []shard
	mask     uint64
	now      func() time.Time
	maxStale time.Duration
	remote   *remote // nil without Redis

	refused, fills, shared atomic.Uint64
}

// shard is one independently locked part of the cache: a map for look-up,
// a doubly linked list in recency order for eviction (head most recent),
// and the fetches in flight for collapsing.
type shard struct {
	mu         sync.Mutex
	entries    map[string]*Entry
	head, tail *Entry
	bytes, max int64
	calls      map[string]*call

	hits, stale, misses, stores, evictions uint64

	// Keep neighbouring shards' locks off one cache line.
	_ [64]byte
}

// New returns a Cache for o, with defaults for its zero fields.
func New(o Options) *Cache {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	n := 1 << bits.Len(uint(o.Shards-1))
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache{
		shards:   make([]shard, n),
		mask:     uint64(n - 1),
		now:      o.Now,
		maxStale: o.MaxStale,
	}
	for i := range c.shards {
		c.shards[i] = shard{
			entries: make(map[string]*Entry),
			calls:   make(map[string]*call),
			max:     o.MaxBytes / int64(n),
		}
	}
	if o.Redis != nil {
		c.remote = newRemote(o)
	}
	return c
}

func (c *Cache) shard(key []byte) *shard {
	return &c.shards[shardHash(key)&c.mask]
}

// shardHash is 64-bit FNV-1a. The shard only spreads lock contention and
// the memory budget; the map inside it hashes keys with its own
// per-process randomisation, so a client who steers many keys into one
// shard gains nothing a flood of distinct keys would not give anyway.
func shardHash[T []byte | string](key T) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(key) {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h
}

// Get returns the entry stored under key, if any, and whether it is still
// fresh. An expired entry is returned with fresh false for as long as it
// may be served stale: until it is evicted, replaced, or Options.MaxStale
// has passed, and never when the backend marked it must-revalidate or
// gave it an s-maxage. Get counts as a use for the LRU order. It looks
// only at local memory, never at Redis, and does not allocate.
func (c *Cache) Get(key []byte) (e *Entry, fresh bool) {
	s := c.shard(key)
	now := c.now()
	s.mu.Lock()
	e, fresh = c.lookup(s, key, now)
	s.mu.Unlock()
	return e, fresh
}

// lookup is Get under s's lock, counting the result.
func (c *Cache) lookup(s *shard, key []byte, now time.Time) (*Entry, bool) {
	e := s.entries[b2s(key)]
	switch {
	case e == nil:
		s.misses++
		return nil, false
	case now.Before(e.Expires):
		s.hits++
		s.touch(e)
		return e, true
	case e.flags&flagNoStale != 0 || (c.maxStale > 0 && now.Sub(e.Expires) >= c.maxStale):
		s.remove(e)
		s.misses++
		return nil, false
	default:
		s.stale++
		s.touch(e)
		return e, false
	}
}

// Set stores a copy of resp under key when the response allows it, and
// reports whether it did. It refuses responses that carry Set-Cookie,
// Cache-Control no-store or no-cache, private (unless r.ByUser), a Vary
// on request headers the key does not hold, a status that is not
// cacheable (200, 203, 204, 300, 301, 308, 404 and 410 are), a lifetime of
// zero after the backend's s-maxage or max-age, a streamed or skipped
// (HEAD) body, or a size over MaxBytes/Shards. Set does not write to
// Redis; Do does.
func (c *Cache) Set(key []byte, resp *fasthttp.Response, r *Rule) bool {
	e, v := snapshot(key, resp, r, c.now(), c.now)
	if v != storable || !c.insert(e) {
		c.refused.Add(1)
		return false
	}
	return true
}

// insert adds e, replacing any entry under the same key and evicting least
// recently used entries until the shard fits its budget. An entry larger
// than the whole budget is refused.
func (c *Cache) insert(e *Entry) bool {
	return c.shards[shardHash(e.key)&c.mask].insert(e)
}

func (s *shard) insert(e *Entry) bool {
	size := e.Size()
	if size > s.max {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insertLocked(e)
}

// insertLocked is insert with s's lock held.
func (s *shard) insertLocked(e *Entry) bool {
	size := e.Size()
	if size > s.max {
		return false
	}
	if old := s.entries[e.key]; old != nil {
		s.remove(old)
	}
	for s.bytes+size > s.max && s.tail != nil {
		s.remove(s.tail)
		s.evictions++
	}
	s.entries[e.key] = e
	s.pushFront(e)
	s.bytes += size
	s.stores++
	return true
}

// touch moves e to the front of the recency list.
func (s *shard) touch(e *Entry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}

func (s *shard) pushFront(e *Entry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *shard) unlink(e *Entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// remove drops e from the shard. Readers holding e keep a valid entry;
// the memory is the garbage collector's once they let go.
func (s *shard) remove(e *Entry) {
	s.unlink(e)
	delete(s.entries, e.key)
	s.bytes -= e.Size()
}

// Stats are cumulative counters and current sizes, for metrics.
type Stats struct {
	// Entries and Bytes are the current contents; Bytes never exceeds
	// Options.MaxBytes.
	Entries int
	Bytes   int64

	// Hits, StaleHits and Misses count look-ups by Get and Do: fresh,
	// expired but servable, and absent.
	Hits, StaleHits, Misses uint64

	// Stores counts entries stored (locally, including those loaded from
	// Redis), Refused responses offered but not stored, Evictions entries
	// dropped to stay under MaxBytes.
	Stores, Refused, Evictions uint64

	// Fills counts backend fetches run by Do, Shared the callers that
	// waited for another caller's fetch instead of running their own.
	Fills, Shared uint64

	// RemoteHits counts fresh entries found in Redis after a local miss,
	// RedisErrors failed or timed-out Redis calls (including calls made
	// while Redis has never been reached).
	RemoteHits, RedisErrors uint64
}

// Stats returns the current counters. It locks each shard briefly in turn.
func (c *Cache) Stats() Stats {
	var st Stats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += len(s.entries)
		st.Bytes += s.bytes
		st.Hits += s.hits
		st.StaleHits += s.stale
		st.Misses += s.misses
		st.Stores += s.stores
		st.Evictions += s.evictions
		s.mu.Unlock()
	}
	st.Refused = c.refused.Load()
	st.Fills = c.fills.Load()
	st.Shared = c.shared.Load()
	if c.remote != nil {
		st.RemoteHits = c.remote.hits.Load()
		st.RedisErrors = c.remote.errors.Load()
	}
	return st
}
