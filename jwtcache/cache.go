package jwtcache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// maxShards is the number of independently locked parts of a cache: enough
// that two cores rarely wait for each other, few enough that a small cache
// still holds a useful number of entries per part.
const maxShards = 64

// tokenCache remembers the outcome of checking a credential, keyed by the
// credential's exact bytes, so that a repeated credential costs a hash, a
// map look-up and a comparison instead of a signature check or a network
// round trip. A hit allocates nothing.
//
// The cache is split into shards by a hash of the token under a key that
// is random per cache (so nobody can aim tokens at one shard), each with its
// own lock and its own share of the entry bound. An entry keeps the whole
// token, and a hit compares it, so two tokens of equal hash are never
// confused: the later one simply replaces the earlier.
//
// Entries are valid until their expiry, read against the caller's clock on
// every hit, and only while their generation is the caller's current one:
// the JWT verifier bumps its generation when a key is removed or replaced,
// which turns every token verified with the old keys into a miss at once.
//
// A full shard makes room with the CLOCK algorithm: a hand sweeps the
// shard's entries in insertion order and replaces the first it passes that
// is expired, of an old generation, or unused since the hand last passed
// (a hit marks an entry used; the passing hand clears the mark). Hot
// entries survive a sweep, and the sweep ends within two turns. Callers put
// only verified credentials, so a flood of forged or garbage tokens never
// reaches the cache: it can neither evict good entries nor grow memory.
//
// A tokenCache is safe for concurrent use.
type tokenCache[V any] struct {
	// hasher is never written to: hash copies it, so every token is
	// hashed under the random key it was given when the cache was made.
	hasher maphash.Hash
	shards []cacheShard[V]
}

type cacheShard[V any] struct {
	mu      sync.RWMutex
	entries map[uint64]*cacheEntry[V]
	// ring holds the entries in the order the CLOCK hand visits them.
	ring  []*cacheEntry[V]
	hand  int
	limit int
	// Padding keeps each shard's lock on its own cache line.
	_ [64]byte
}

type cacheEntry[V any] struct {
	hash    uint64
	token   string
	value   V
	expires int64 // Unix nanoseconds; a miss from then on
	gen     uint64
	used    atomic.Bool // the CLOCK reference mark
}

// newTokenCache returns a cache holding at most entries entries in total
// (at least one).
func newTokenCache[V any](entries int) *tokenCache[V] {
	entries = max(entries, 1)
	n := min(maxShards, entries)
	c := &tokenCache[V]{shards: make([]cacheShard[V], n)}
	c.hasher.Reset() // picks the random key; copies of a zero Hash would each pick their own
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = entries / n
		if i < entries%n {
			s.limit++
		}
		s.entries = make(map[uint64]*cacheEntry[V])
	}
	return c
}

// hash returns the key of token for get and put.
func (c *tokenCache[V]) hash(token []byte) uint64 {
	h := c.hasher
	h.Write(token)
	return h.Sum64()
}

func (c *tokenCache[V]) shard(h uint64) *cacheShard[V] {
	return &c.shards[h%uint64(len(c.shards))]
}

// get returns the value cached for token, whose hash is h, if its entry is
// of generation gen and unexpired at now (Unix nanoseconds).
func (c *tokenCache[V]) get(h uint64, token []byte, now int64, gen uint64) (v V, ok bool) {
	s := c.shard(h)
	s.mu.RLock()
	if e := s.entries[h]; e != nil && e.gen == gen && now < e.expires && e.token == string(token) {
		v, ok = e.value, true
		if !e.used.Load() {
			e.used.Store(true)
		}
	}
	s.mu.RUnlock()
	return v, ok
}

// put caches value for token, whose hash is h, until expires (Unix
// nanoseconds), as of generation gen. The token is copied.
func (c *tokenCache[V]) put(h uint64, token []byte, value V, expires int64, gen uint64, now int64) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[h]; e != nil {
		// The same token checked again after its entry went stale, or a
		// token of the same hash: the newer outcome replaces the entry.
		if e.token != string(token) {
			e.token = string(token)
		}
		e.value, e.expires, e.gen = value, expires, gen
		e.used.Store(true)
		return
	}
	e := &cacheEntry[V]{hash: h, token: string(token), value: value, expires: expires, gen: gen}
	if len(s.ring) < s.limit {
		s.ring = append(s.ring, e)
	} else {
		i := s.victim(now, gen)
		delete(s.entries, s.ring[i].hash)
		s.ring[i] = e
	}
	s.entries[h] = e
}

// victim moves the CLOCK hand to the entry to replace and returns its
// index in the ring. The shard must be full and locked.
func (s *cacheShard[V]) victim(now int64, gen uint64) int {
	for {
		i := s.hand
		if s.hand++; s.hand == len(s.ring) {
			s.hand = 0
		}
		e := s.ring[i]
		if e.expires <= now || e.gen != gen || !e.used.Load() {
			return i
		}
		e.used.Store(false)
	}
}

// len returns the number of entries, valid or not.
func (c *tokenCache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
