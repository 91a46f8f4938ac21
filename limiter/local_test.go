package limiter

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

func TestTableEvictsLeastRecentlyUsed(t *testing.T) {
	tb := newTable[int64](minPerShard, int64(time.Hour))
	if len(tb.shards) != 1 {
		t.Fatalf("%d shards for %d keys, want 1", len(tb.shards), minPerShard)
	}
	sh := &tb.shards[0]
	for h := range uint64(minPerShard) {
		s, fresh := sh.get(h, 0, tb.idle)
		if !fresh {
			t.Fatalf("key %d: not fresh on first use", h)
		}
		*s = int64(h)
	}
	sh.get(0, 1, tb.idle) // key 0 is now the most recently used
	sh.get(1000, 2, tb.idle)
	if sh.peek(1) != nil {
		t.Fatal("key 1, the least recently used, survived an insert into a full shard")
	}
	if s := sh.peek(0); s == nil || *s != 0 {
		t.Fatal("key 0, used recently, was evicted")
	}
	if got := tb.len(); got != minPerShard {
		t.Fatalf("len %d, want %d", got, minPerShard)
	}
	var st Stats
	tb.counts(&st)
	if st.Evicted != 1 {
		t.Fatalf("Evicted %d, want 1", st.Evicted)
	}
}

func TestTableDropsIdleKeys(t *testing.T) {
	idle := int64(time.Second)
	tb := newTable[int64](minPerShard, idle)
	sh := &tb.shards[0]
	for h := range uint64(10) {
		sh.get(h, 0, idle)
	}
	// Each insert drops up to two keys idle for the whole idle period.
	sh.get(100, idle-1, idle)
	if got := tb.len(); got != 11 {
		t.Fatalf("len %d, want 11: nothing is idle yet", got)
	}
	for i := range uint64(5) {
		sh.get(200+i, idle, idle)
	}
	if got := tb.len(); got != 6 {
		t.Fatalf("len %d, want 6: five inserts drop the ten idle keys", got)
	}
	// Dropped slots are reused, not appended.
	if len(sh.slots) != 11 {
		t.Fatalf("%d slots allocated, want 11", len(sh.slots))
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
