package limiter

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

func TestTableEvictsKeysNotUsedRecently(t *testing.T) {
	tb := newTable[int64](minPerShard, int64(time.Hour))
	if len(tb.shards) != 1 {
		t.Fatalf("%d shards for %d keys, want 1", len(tb.shards), minPerShard)
	}
	sh := &tb.shards[0]
	// Hashes differing in their low 32 bits spread over the slots; the
	// lowest bit is the table's own.
	key := func(i uint64) uint64 { return i * 0x9e3779b97f4a7c16 }
	for i := range uint64(minPerShard) {
		s, fresh := sh.get(key(i), 0)
		if !fresh {
			t.Fatalf("key %d: not fresh on first use", i)
		}
		*s = int64(i)
	}
	// Half the keys are used again: they must outlive the other half.
	for i := uint64(0); i < minPerShard; i += 2 {
		sh.get(key(i), 1)
	}
	for i := range uint64(minPerShard / 2) {
		sh.get(key(1000+i), 2)
	}
	for i := range uint64(minPerShard) {
		s := sh.peek(key(i))
		switch {
		case i%2 == 0 && (s == nil || *s != int64(i)):
			t.Fatalf("key %d, used again, was evicted or lost its state", i)
		case i%2 == 1 && s != nil:
			t.Fatalf("key %d, not used again, survived while used keys were evicted", i)
		}
	}
	if got := tb.len(); got != minPerShard {
		t.Fatalf("len %d, want %d", got, minPerShard)
	}
	var st Stats
	tb.counts(&st)
	if st.Evicted != minPerShard/2 {
		t.Fatalf("Evicted %d, want %d", st.Evicted, minPerShard/2)
	}
	// Every key still answers from its home run after the removals.
	for i := uint64(0); i < minPerShard; i += 2 {
		if sh.peek(key(i)) == nil {
			t.Fatalf("key %d unreachable", i)
		}
	}
}

func TestTableDropsIdleKeys(t *testing.T) {
	idle := int64(time.Second)
	tb := newTable[int64](minPerShard, idle)
	sh := &tb.shards[0]
	key := func(i uint64) uint64 { return i * 0x9e3779b97f4a7c16 }
	for i := range uint64(10) {
		sh.get(key(i), 0)
	}
	slots := len(sh.slots)
	sh.get(key(100), idle-1)
	if got := tb.len(); got != 11 {
		t.Fatalf("len %d, want 11: nothing is idle yet", got)
	}
	// Each insert inspects sweepSlots slots or drops a key: enough
	// inserts for one turn of the sweep and ten drops clear every idle
	// key, and nothing else.
	inserts := uint64((slots+10)/sweepSlots + 1)
	for i := range inserts {
		sh.get(key(200+i), idle)
	}
	for i := range uint64(10) {
		if sh.peek(key(i)) != nil {
			t.Fatalf("key %d, idle for the whole idle period, still held", i)
		}
	}
	if got, want := tb.len(), int(1+inserts); got != want {
		t.Fatalf("len %d, want %d", got, want)
	}
	if len(sh.slots) != slots {
		t.Fatalf("%d slots, want %d: dropped keys leave room", len(sh.slots), slots)
	}
	var st Stats
	tb.counts(&st)
	if st.Evicted != 0 {
		t.Fatalf("Evicted %d, want 0: idle keys are dropped, not evicted", st.Evicted)
	}
}

// TestTableProbesSurviveChurn inserts and removes many keys in a small
// shard and checks that the table always agrees with a map.
func TestTableProbesSurviveChurn(t *testing.T) {
	tb := newTable[int64](minPerShard, 1<<62)
	sh := &tb.shards[0]
	want := map[uint64]int64{}
	r := uint64(1)
	for step := range int64(20_000) {
		r = r*6364136223846793005 + 1442695040888963407
		h := r &^ 1 // the table ignores the lowest bit
		s, fresh := sh.get(h, step)
		if _, held := want[h]; held == fresh {
			t.Fatalf("step %d: fresh %v, held %v", step, fresh, held)
		}
		*s = step
		want[h] = step
		if int(sh.used) < len(want) {
			// Something was evicted: forget what the table forgot.
			for k := range want {
				if sh.peek(k) == nil {
					delete(want, k)
				}
			}
		}
		if int(sh.used) != len(want) {
			t.Fatalf("step %d: %d keys held, want %d", step, sh.used, len(want))
		}
	}
	for k, v := range want {
		if s := sh.peek(k); s == nil || *s != v {
			t.Fatalf("key %x: %v, want %d", k, s, v)
		}
	}
}

// TestFloodStaysWithinMaxKeys sends 1.2 million distinct keys (120,000
// under the race detector), as random source addresses would, through a
// limiter of 10,000 keys: the tables never hold more, the heap does not
// grow with the flood, and a client that keeps asking keeps its state
// through it.
func TestFloodStaysWithinMaxKeys(t *testing.T) {
	const maxKeys = 10_000
	flood := 1_200_000
	if raceEnabled {
		flood /= 10
	}
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			clock := newFakeClock()
			l := newLimiter(t, Policy{Algorithm: alg, Limit: 5, Window: time.Hour}, Options{MaxKeys: maxKeys, Now: clock.Now})
			regular := []byte("regular-client")
			if n := drain(l, regular, 10); n != 5 {
				t.Fatalf("regular client: %d admitted, want 5", n)
			}
			var before runtime.MemStats
			key := make([]byte, 8)
			for i := range flood {
				binary.LittleEndian.PutUint64(key, uint64(i)*0x9e3779b97f4a7c15)
				l.Allow(key)
				if i%100 == 0 && l.Allow(regular).Allowed {
					t.Fatalf("regular client admitted after %d flood keys: its state was evicted", i)
				}
				if i == flood/4 {
					runtime.GC()
					runtime.ReadMemStats(&before)
				}
				if i%50_000 == 0 {
					if k := l.Stats().Keys; k > maxKeys {
						t.Fatalf("%d keys held after %d flood keys, bound %d", k, i, maxKeys)
					}
				}
			}
			st := l.Stats()
			if st.Keys > maxKeys || st.Keys < maxKeys*9/10 {
				t.Fatalf("%d keys held after the flood, want at most %d and close to it", st.Keys, maxKeys)
			}
			if st.Evicted < uint64(flood-maxKeys) {
				t.Fatalf("Evicted %d, want at least %d", st.Evicted, flood-maxKeys)
			}
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 1<<20 {
				t.Fatalf("heap grew %d bytes during the last %d flood keys of a full table", grown, flood*3/4)
			}
		})
	}
}
