package limiter

import "sync"

// local is a limiter that answers from process memory alone. bucket and
// window implement it; the Limiter uses one as the whole limiter in local
// mode and as the fail_open fallback in redis and hybrid modes.
type local interface {
	// allow decides one request of the key whose hash is h at time now
	// (nanoseconds on the Limiter's clock) and records it if admitted.
	allow(h uint64, now int64) Decision
	// counts adds the table's counters to s.
	counts(s *Stats)
}

// Table geometry. 256 shards keep two cores, or sixty-four, from meeting
// on one lock; a shard never holds fewer than minPerShard keys so that a
// small MaxKeys still gives each shard a useful LRU.
const (
	maxShards   = 256
	minPerShard = 64
)

// none is the nil of the slot lists.
const none int32 = -1

// table maps key hashes to per-key state S in bounded memory.
//
// It is split into shards by the top bits of the hash, each a mutex, a Go
// map from hash to slot index, and a slice of slots threaded on a doubly
// linked list in least-recently-used order. A shard holds at most its
// share of MaxKeys (rounded down, so the table never holds more than
// MaxKeys in all). Inserting into a full shard evicts its least recently
// used key; before that, every insert drops up to two keys from the cold
// end that have been idle long enough to be as good as new, so tables
// shrink back to the active keys without a sweeper goroutine.
//
// Keys are 64-bit hashes under a random per-Limiter key (hash/maphash),
// so the table stores no key bytes and a hit allocates nothing. Two keys
// share state only if their hashes collide: about 2^-64 per pair, and no
// client can aim for it without knowing the hash key.
//
// A shard's methods require its mutex held. Pointers returned into a
// shard's slots stay valid until the mutex is released.
type table[S any] struct {
	shards []shard[S]
	shift  uint
	// idle is how long an entry may go unused before it is equivalent to
	// a fresh one and may be dropped.
	idle int64
}

type shard[S any] struct {
	mu    sync.Mutex
	index map[uint64]int32
	slots []slot[S]
	// head is the most recently used slot, tail the least; free chains
	// unused slots through next.
	head, tail, free int32
	capacity         int32

	// Counters, under mu: the lock is held anyway, so counting is free
	// and never contended across shards.
	admitted, limited, evicted uint64

	// The padding keeps neighbouring shards' locks on separate cache
	// lines.
	_ [64]byte
}

type slot[S any] struct {
	hash       uint64
	last       int64 // time of the last use
	prev, next int32
	state      S
}

// newTable returns a table of at most maxKeys keys.
func newTable[S any](maxKeys int, idle int64) *table[S] {
	n, bits := 1, uint(0)
	for n < maxShards && maxKeys/(n*2) >= minPerShard {
		n *= 2
		bits++
	}
	per := max(maxKeys/n, 1)
	t := &table[S]{shards: make([]shard[S], n), shift: 64 - bits, idle: idle}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.index = make(map[uint64]int32)
		sh.head, sh.tail, sh.free = none, none, none
		sh.capacity = int32(per)
	}
	return t
}

// shard returns the shard of hash h. With one shard the shift is 64,
// which Go defines to give 0.
func (t *table[S]) shard(h uint64) *shard[S] {
	return &t.shards[h>>t.shift]
}

// len returns the number of keys held.
func (t *table[S]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}

// counts adds the table's counters and size to s.
func (t *table[S]) counts(s *Stats) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		s.Admitted += sh.admitted
		s.Limited += sh.limited
		s.Evicted += sh.evicted
		s.Keys += len(sh.index)
		sh.mu.Unlock()
	}
}

// get returns the state of h, marked used at now, inserting a zero state
// (fresh is true) when h is not held.
func (sh *shard[S]) get(h uint64, now, idle int64) (s *S, fresh bool) {
	if i, ok := sh.index[h]; ok {
		sl := &sh.slots[i]
		sl.last = now
		sh.toFront(i)
		return &sl.state, false
	}
	return sh.insert(h, now, idle), true
}

// peek returns the state of h without marking it used, or nil.
func (sh *shard[S]) peek(h uint64) *S {
	if i, ok := sh.index[h]; ok {
		return &sh.slots[i].state
	}
	return nil
}

// touch marks the slot of h used at now, if h is held.
func (sh *shard[S]) touch(h uint64, now int64) {
	if i, ok := sh.index[h]; ok {
		sh.slots[i].last = now
		sh.toFront(i)
	}
}

// count records one decision.
func (sh *shard[S]) count(allowed bool) {
	if allowed {
		sh.admitted++
	} else {
		sh.limited++
	}
}

// walk calls fn for the slots from the most recently used on, while fn
// returns true. fn must not insert or remove.
func (sh *shard[S]) walk(fn func(h uint64, s *S) bool) {
	for i := sh.head; i != none; i = sh.slots[i].next {
		if !fn(sh.slots[i].hash, &sh.slots[i].state) {
			return
		}
	}
}

func (sh *shard[S]) insert(h uint64, now, idle int64) *S {
	// Housekeeping: keys idle long enough to be as good as new go first.
	for range 2 {
		if sh.tail == none || now-sh.slots[sh.tail].last < idle {
			break
		}
		sh.remove(sh.tail)
	}
	var i int32
	switch {
	case len(sh.index) >= int(sh.capacity):
		i = sh.tail
		delete(sh.index, sh.slots[i].hash)
		sh.unlink(i)
		sh.evicted++
	case sh.free != none:
		i = sh.free
		sh.free = sh.slots[i].next
	default:
		if len(sh.slots) == cap(sh.slots) {
			// Grow by doubling, but never past the capacity: a full
			// shard's slice is exactly its share of MaxKeys.
			grown := make([]slot[S], len(sh.slots), min(max(2*cap(sh.slots), 16), int(sh.capacity)))
			copy(grown, sh.slots)
			sh.slots = grown
		}
		sh.slots = append(sh.slots, slot[S]{})
		i = int32(len(sh.slots) - 1)
	}
	sl := &sh.slots[i]
	*sl = slot[S]{hash: h, last: now}
	sh.pushFront(i)
	sh.index[h] = i
	return &sl.state
}

// remove drops slot i and puts it on the free list.
func (sh *shard[S]) remove(i int32) {
	delete(sh.index, sh.slots[i].hash)
	sh.unlink(i)
	var zero S
	sh.slots[i].state = zero // release what the state points to
	sh.slots[i].next = sh.free
	sh.free = i
}

func (sh *shard[S]) toFront(i int32) {
	if sh.head == i {
		return
	}
	sh.unlink(i)
	sh.pushFront(i)
}

func (sh *shard[S]) pushFront(i int32) {
	sl := &sh.slots[i]
	sl.prev, sl.next = none, sh.head
	if sh.head != none {
		sh.slots[sh.head].prev = i
	} else {
		sh.tail = i
	}
	sh.head = i
}

func (sh *shard[S]) unlink(i int32) {
	sl := &sh.slots[i]
	if sl.prev != none {
		sh.slots[sl.prev].next = sl.next
	} else {
		sh.head = sl.next
	}
	if sl.next != none {
		sh.slots[sl.next].prev = sl.prev
	} else {
		sh.tail = sl.prev
	}
	sl.prev, sl.next = none, none
}
