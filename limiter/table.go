package limiter

import (
	"sync"
	"unsafe"
)

// Table geometry. 256 shards keep two cores, or sixty-four, from meeting
// on one lock; a shard never holds fewer than minPerShard keys so that a
// small MaxKeys still gives each shard a useful eviction order.
const (
	maxShards   = 256
	minPerShard = 64
	// minSlots is a new shard's first allocation.
	minSlots = 16
	// sweepSlots is how many slots each insert inspects for idle keys.
	sweepSlots = 4
	// bigSlot is the slot size from which a table packs its slots more
	// densely (see newTable).
	bigSlot = 64
)

// table maps key hashes to per-key state S in bounded memory.
//
// It is split into shards by the top bits of the hash. Each shard is a
// mutex and one open-addressed array of slots (linear probing), each slot
// holding a key's hash, the time of its last use and its state inline: a
// hit costs one probe into memory the shard owns, with no Go map, no
// pointer to follow and no list to relink. The array grows by doubling up
// to twice the shard's share of MaxKeys (4/3 for big slots; the share is
// rounded down, so the table never holds more than MaxKeys in all),
// which keeps probe sequences short at any fill and never lets it grow
// beyond its bound.
//
// A full shard evicts with the CLOCK algorithm, the usual approximation
// of least-recently-used: every use sets a slot's reference bit, and a
// hand sweeping the array clears set bits and evicts the first slot whose
// bit is already clear, that is, a key not used since the hand last
// passed. A key enters with its bit clear, so under a flood of distinct
// keys (random source addresses) the hand finds the flood's one-time keys
// first, while clients that keep coming keep setting their bits and stay.
// An evicted client starts afresh, which is the price of the bound.
// Strict LRU order would cost two more cache lines per use (the
// neighbours in a linked list), and at a million keys those are misses.
//
// Before that, every insert inspects the next few slots under a second
// cursor and drops keys idle long enough to be as good as new, so tables
// shrink back to the active keys without a sweeper goroutine.
//
// Keys are 64-bit hashes under a random per-Limiter key (hash/maphash),
// so the table stores no key bytes and a hit allocates nothing. Two keys
// share state only if their hashes collide in all but the lowest bit
// (which marks a slot in use): about 2^-63 per pair, and no client can aim
// for it without knowing the hash key.
//
// A shard's methods require its mutex held. Pointers returned into a
// shard's slots stay valid until the mutex is released: an insert may
// move slots.
type table[S any] struct {
	shards []shard[S]
	shift  uint
	// idle is how long an entry may go unused before it is equivalent to
	// a fresh one and may be dropped.
	idle int64
}

type shard[S any] struct {
	mu    sync.Mutex
	slots []slot[S]
	// used counts the slots in use; capacity bounds it, maxSlots bounds
	// len(slots). The array grows when more than num/den of it is used.
	used, capacity, maxSlots int32
	num, den                 int32
	// hand is the CLOCK hand, sweep the idle sweep's cursor.
	hand, sweep int32
	idle        int64

	// marked lists keys a user of the table flagged since it last
	// emptied the list (hybrid mode: the keys asked since the last sync
	// round). Entries may name keys evicted since.
	marked []uint64

	// Counters, under mu: the lock is held anyway, so counting is free
	// and never contended across shards.
	admitted, limited, evicted uint64

	// The padding keeps neighbouring shards' locks on separate cache
	// lines.
	_ [64]byte
}

// slot is one key. hash is the key's hash with the lowest bit set, 0 when
// the slot is free. mark is the time of the last use shifted left by one,
// with the reference bit in the lowest bit.
type slot[S any] struct {
	hash  uint64
	mark  int64
	state S
}

// last returns the time of the slot's last use.
func (s *slot[S]) last() int64 { return s.mark >> 1 }

// newTable returns a table of at most maxKeys keys.
func newTable[S any](maxKeys int, idle int64) *table[S] {
	n, bits := 1, uint(0)
	for n < maxShards && maxKeys/(n*2) >= minPerShard {
		n *= 2
		bits++
	}
	per := max(maxKeys/n, 1)
	// At most half the slots are in use: linear probing slows sharply as
	// the array fills, and a miss (every new key, as in a flood) probes
	// about 2.5 slots at 1/2, 8.5 at 3/4. Big slots (hybrid mode's) fill
	// up to 3/4, for memory: their keys are few and long-lived.
	num, den := 1, 2
	if unsafe.Sizeof(slot[S]{}) >= bigSlot {
		num, den = 3, 4
	}
	t := &table[S]{shards: make([]shard[S], n), shift: 64 - bits, idle: idle}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.capacity = int32(per)
		sh.maxSlots = int32(per*den/num + 1)
		sh.idle = idle
		sh.num, sh.den = int32(num), int32(den)
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
		n += int(sh.used)
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
		s.Keys += int(sh.used)
		sh.mu.Unlock()
	}
}

// home returns the first slot to probe for the stored hash k: the low 32
// bits scaled to the array's length (any length works, not only powers
// of two; the top bits chose the shard).
func (sh *shard[S]) home(k uint64) int {
	return int(uint64(uint32(k)) * uint64(len(sh.slots)) >> 32)
}

// find returns the index of the slot of stored hash k, or -1.
func (sh *shard[S]) find(k uint64) int {
	n := len(sh.slots)
	if n == 0 {
		return -1
	}
	// The array is never full (see loadNum), so the probe ends.
	for i := sh.home(k); ; {
		switch sh.slots[i].hash {
		case k:
			return i
		case 0:
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

// get returns the state of h, marked used at now, inserting a zero state
// (fresh is true) when h is not held.
func (sh *shard[S]) get(h uint64, now int64) (s *S, fresh bool) {
	if i := sh.find(h | 1); i >= 0 {
		sl := &sh.slots[i]
		sl.mark = now<<1 | 1
		return &sl.state, false
	}
	return sh.insert(h|1, now), true
}

// peek returns the state of h without marking it used, or nil.
func (sh *shard[S]) peek(h uint64) *S {
	if i := sh.find(h | 1); i >= 0 {
		return &sh.slots[i].state
	}
	return nil
}

// touch marks the slot of h used at now, if h is held.
func (sh *shard[S]) touch(h uint64, now int64) {
	if i := sh.find(h | 1); i >= 0 {
		sh.slots[i].mark = now<<1 | 1
	}
}

// mark adds h to the shard's marked list.
func (sh *shard[S]) mark(h uint64) { sh.marked = append(sh.marked, h) }

// count records one decision.
func (sh *shard[S]) count(allowed bool) {
	if allowed {
		sh.admitted++
	} else {
		sh.limited++
	}
}

// insert stores stored hash k, not held, with a zero state.
func (sh *shard[S]) insert(k uint64, now int64) *S {
	sh.dropIdle(now)
	switch {
	case sh.used >= sh.capacity:
		sh.evict(now)
	case int(sh.used) >= len(sh.slots)*int(sh.num)/int(sh.den) && len(sh.slots) < int(sh.maxSlots):
		sh.grow()
	}
	i := sh.home(k)
	for sh.slots[i].hash != 0 {
		if i++; i == len(sh.slots) {
			i = 0
		}
	}
	sl := &sh.slots[i]
	*sl = slot[S]{hash: k, mark: now << 1}
	sh.used++
	return &sl.state
}

// grow doubles the slot array, never past maxSlots, and places every key
// anew.
func (sh *shard[S]) grow() {
	old := sh.slots
	sh.slots = make([]slot[S], min(max(2*len(old), minSlots), int(sh.maxSlots)))
	sh.hand, sh.sweep = 0, 0
	for j := range old {
		if old[j].hash == 0 {
			continue
		}
		i := sh.home(old[j].hash)
		for sh.slots[i].hash != 0 {
			if i++; i == len(sh.slots) {
				i = 0
			}
		}
		sh.slots[i] = old[j]
	}
}

// dropIdle inspects the next sweepSlots slots at the sweep cursor and
// frees those idle since before now-idle.
func (sh *shard[S]) dropIdle(now int64) {
	n := int32(len(sh.slots))
	for range sweepSlots {
		if sh.used == 0 {
			return
		}
		sl := &sh.slots[sh.sweep]
		if sl.hash != 0 && now-sl.last() >= sh.idle {
			// remove may shift the next key into this slot: look again.
			sh.remove(int(sh.sweep))
			continue
		}
		if sh.sweep++; sh.sweep == n {
			sh.sweep = 0
		}
	}
}

// evict frees one slot of a full shard: the first under the hand that is
// idle or whose reference bit is clear, clearing the bits it passes. Two
// turns of the hand at most: after one, every bit is clear.
func (sh *shard[S]) evict(now int64) {
	n := int32(len(sh.slots))
	for {
		sl := &sh.slots[sh.hand]
		if sl.hash != 0 {
			if now-sl.last() >= sh.idle {
				sh.remove(int(sh.hand))
				return
			}
			if sl.mark&1 == 0 {
				sh.remove(int(sh.hand))
				sh.evicted++
				return
			}
			sl.mark &^= 1
		}
		if sh.hand++; sh.hand == n {
			sh.hand = 0
		}
	}
}

// remove frees slot i, shifting later keys of its probe run back so that
// every key stays reachable from its home slot without tombstones.
func (sh *shard[S]) remove(i int) {
	n := len(sh.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		k := sh.slots[j].hash
		if k == 0 {
			break
		}
		// The key at j may move to i unless its home lies cyclically
		// in (i, j]: then i is before its probe run starts.
		if h := sh.home(k); (i < j && i < h && h <= j) || (i > j && (i < h || h <= j)) {
			continue
		}
		sh.slots[i] = sh.slots[j]
		i = j
	}
	sh.slots[i] = slot[S]{} // also releases what the state points to
	sh.used--
}
